"""One consumer channel: a subscription, the deliveries it hands out, and settling them.

A handler usually passes its :class:`Delivery` to a worker thread and returns at once,
so the consumer's I/O loop keeps answering heartbeats while the work runs. Whatever the
worker then does with the delivery (ack, nack, publish) is handed back to that loop by
the ``call_soon`` the consumer gives each :class:`ChannelState`: pika is not thread-safe.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Callable, Sequence

from .confirms import ConfirmTracker, Done, Message
from .errors import LOST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """A queue to consume and the handler each of its messages goes to."""

    queue: str
    handler: Callable[["Delivery"], None]
    prefetch: int = 100


class Delivery:
    """One consumed message. Settle it once with :meth:`ack` or :meth:`nack`.

    Every method may be called from any thread; the work is done on the consumer's
    I/O loop. A delivery from a connection that has since been lost cannot be settled
    any more: the broker has already put it back in its queue.
    """

    __slots__ = ("body", "headers", "message_id", "redelivered", "routing_key", "exchange",
                 "content_type", "timestamp", "user_id", "consumer_tag", "_tag", "_channel", "_settled")

    def __init__(self, channel: "ChannelState", method, props, body: bytes):
        self.body = body
        self.headers = dict(props.headers or {})
        self.message_id = props.message_id
        self.content_type = props.content_type
        self.timestamp = props.timestamp
        #: The broker user that published it, as RabbitMQ validated it (None if it set none).
        self.user_id = props.user_id
        self.redelivered = method.redelivered
        self.routing_key = method.routing_key
        self.exchange = method.exchange
        #: New with every (re)connection: the first delivery under a new tag is the first since then.
        self.consumer_tag = method.consumer_tag
        self._tag = method.delivery_tag
        self._channel = channel
        self._settled = False

    @property
    def live(self) -> bool:
        """False once the channel it came on is gone: the broker has put it back in its queue."""
        return self._channel.open

    def ack(self) -> None:
        self._channel.call_soon(self._channel.settle, self, True, False)

    def nack(self, requeue: bool = True) -> None:
        self._channel.call_soon(self._channel.settle, self, False, requeue)

    def publish(self, message: Message, done: Done | None = None) -> None:
        """Publish on this subscription's confirm channel; ``done`` gets the outcome."""
        self._channel.call_soon(self._channel.publish, message, done)

    def publish_many(self, messages: Sequence[Message], done: Callable[[list], None]) -> None:
        """Publish several; ``done`` gets the list of reasons (None = confirmed), in order."""
        self._channel.call_soon(self._channel.publish_many, messages, done)


class ChannelState:
    """One open channel of the consumer, with its confirm tracker and unsettled deliveries.

    What it needs of its consumer is given, not reached for: ``call_soon`` runs a function
    on the I/O loop from any thread, ``after_settle`` is told of every ack, nack and
    confirm (a stop waits for the last one), ``received`` of every message (with its queue). The consumer
    calls :meth:`retire` when it lets the channel go.
    """

    def __init__(self, channel, subscription: Subscription, *, call_soon: Callable[..., None],
                 after_settle: Callable[[], None], received: Callable[[str], None]):
        self.channel = channel
        self.subscription = subscription
        self.call_soon = call_soon
        self._after_settle = after_settle
        self._received = received
        self.tracker = ConfirmTracker(channel, after_confirm=after_settle)
        self.unsettled = 0
        self.consumer_tag: str | None = None
        self._retired = False

    @property
    def open(self) -> bool:
        return not self._retired and self.channel.is_open

    def retire(self, reason: str) -> None:
        """The consumer has let this channel go: its deliveries can no longer be settled,
        and the publishes still waiting for a confirm will never hear one."""
        self._retired = True
        self.tracker.fail_all(LOST + reason)

    def consume(self) -> None:
        self.consumer_tag = self.channel.basic_consume(self.subscription.queue, self.on_message)

    def cancel(self) -> None:
        if self.consumer_tag and self.channel.is_open:
            self.channel.basic_cancel(self.consumer_tag)

    @property
    def idle(self) -> bool:
        """Nothing in flight: every delivery settled and every publish confirmed."""
        return self.unsettled == 0 and len(self.tracker) == 0

    def settle(self, delivery: Delivery, ack: bool, requeue: bool) -> None:
        if delivery._settled:
            return
        delivery._settled = True
        self.unsettled -= 1
        if not self.open:
            return
        if ack:
            self.channel.basic_ack(delivery._tag)
        else:
            self.channel.basic_nack(delivery._tag, requeue=requeue)
        self._after_settle()

    def publish(self, message: Message, done: Done | None) -> None:
        if not self.open:
            if done:
                done(LOST + "channel closed")
            return
        self.tracker.publish(message, done)

    def publish_many(self, messages: Sequence[Message], done: Callable[[list], None]) -> None:
        results: list = [None] * len(messages)
        left = [len(messages)]
        if not messages:
            done(results)
            return

        def one(index: int, reason: str | None) -> None:
            results[index] = reason
            left[0] -= 1
            if left[0] == 0:
                done(results)

        for index, message in enumerate(messages):
            self.publish(message, functools.partial(one, index))

    def on_message(self, _channel, method, props, body) -> None:
        self.unsettled += 1
        self._received(self.subscription.queue)
        delivery = Delivery(self, method, props, body)
        try:
            self.subscription.handler(delivery)
        except Exception:  # noqa: BLE001 - a handler bug must not kill the loop
            log.exception("handler for %s failed; message returned to the queue", self.subscription.queue)
            if not delivery._settled:
                self.settle(delivery, False, True)
