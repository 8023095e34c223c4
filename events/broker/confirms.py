"""Publishing with publisher confirms: the message, its properties, and who hears the outcome.

Both the :class:`~events.broker.publisher.Publisher` and a consumer's channels publish
through a :class:`ConfirmTracker`, so a confirm, a nack and an unroutable return mean the
same thing everywhere: ``done(None)`` or ``done(reason)``, once per message.

Every message carries the AMQP ``user_id`` of the connection's own user. RabbitMQ refuses
a publish whose ``user_id`` is not the connection's user, so a consumer reading it knows
which broker user published the message: the one thing a consumer can trust about who
sent it (README, Security).
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import pika
from pika.spec import Basic

#: ``done(None)`` once the broker confirmed a publish, ``done(reason)`` if it did not.
Done = Callable[["str | None"], None]
#: How the reason of a mandatory message no queue took begins.
UNROUTABLE = "unroutable: "


def properties(*, message_id: str, headers: dict | None = None,
               content_type: str = "application/json", timestamp: int | None = None,
               expiration: str | None = None, user_id: str | None = None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=2,
        message_id=message_id,
        headers=headers or {},
        timestamp=timestamp if timestamp is not None else int(time.time()),
        expiration=expiration,
        user_id=user_id,
    )


def connection_user(channel) -> str | None:
    """The broker user a pika channel's connection logged in as."""
    return getattr(channel.connection.params.credentials, "username", None)


@dataclass(frozen=True)
class Message:
    """One message to publish."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: dict | None = None
    content_type: str = "application/json"
    mandatory: bool = True


class ConfirmTracker:
    """Publishes on a confirm-mode channel and calls each message's ``done`` on ack/nack.

    RabbitMQ sends ``basic.return`` before the ``basic.ack`` of an unroutable mandatory
    message, so a return recorded by message id turns that ack into a failure.
    """

    def __init__(self, channel, after_confirm: Callable[[], None] | None = None) -> None:
        self._channel = channel
        self._after_confirm = after_confirm
        self._user_id = connection_user(channel)
        self._next_tag = 1
        self._pending: OrderedDict[int, tuple[str, Done | None]] = OrderedDict()
        self._returned: dict[str, str] = {}
        channel.confirm_delivery(self._on_confirm)
        channel.add_on_return_callback(self._on_return)

    def __len__(self) -> int:
        return len(self._pending)

    def publish(self, message: Message, done: Done | None) -> None:
        props = properties(message_id=message.message_id, headers=message.headers,
                           content_type=message.content_type, user_id=self._user_id)
        self._channel.basic_publish(message.exchange, message.routing_key, message.body, props,
                                    mandatory=message.mandatory)
        self._pending[self._next_tag] = (message.message_id, done)
        self._next_tag += 1

    def fail_all(self, reason: str) -> None:
        pending, self._pending = self._pending, OrderedDict()
        for _message_id, done in pending.values():
            if done:
                done(reason)

    def _on_return(self, _channel, method, props, _body) -> None:
        self._returned[props.message_id] = (
            f"{UNROUTABLE}no queue bound for {method.exchange or '(default)'}/{method.routing_key}"
            f" ({method.reply_text})"
        )

    def _on_confirm(self, frame) -> None:
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = [method.delivery_tag]
        if method.multiple:
            # The pending tags are in publishing order: stop at the first one not confirmed yet
            # (scanning them all made a large fan-out's confirms quadratic).
            tags = list(itertools.takewhile(lambda tag: tag <= method.delivery_tag, self._pending))
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is None:
                continue
            message_id, done = entry
            reason = self._returned.pop(message_id, None)
            if reason is None and not ok:
                reason = "nacked by the broker"
            if done:
                done(reason)
        if self._after_confirm is not None:
            self._after_confirm()
