"""All of omero-mail's pika code: connections, topology, confirmed publishing, consuming.

Nothing else imports pika. Two pieces sit on pika's asynchronous SelectConnection, one
I/O loop each, so that publisher confirms are pipelined (publish many, then collect the
acks) and heartbeats are answered while the work runs elsewhere:

- :class:`Publisher` publishes and returns once the broker confirmed (``mandatory``, so
  a message no queue takes is an error rather than a silent drop).
- :class:`Consumer` runs subscriptions, one channel each, and hands every message to a
  handler as a :class:`Delivery` whose ``ack``/``nack``/``publish`` may be called from
  any thread. It reconnects with a growing delay and stops gracefully.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence
from urllib.parse import quote

import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from . import topology as topo

log = logging.getLogger(__name__)

#: ``done(None)`` once the broker confirmed a publish, ``done(reason)`` if it did not.
Done = Callable[["str | None"], None]


class BrokerError(Exception):
    """The broker is unreachable or refused something; the message says what."""


class PublishError(BrokerError):
    """A message was not confirmed by the broker (nacked, unroutable, or cut off)."""


class _Unconfirmed(BrokerError):
    def __init__(self, messages: list, reason: str):
        super().__init__(reason)
        self.messages = messages
        self.reason = reason


#: Prefix of the reason given to publishes whose confirm never came (connection lost).
LOST = "lost: "


def redacted(url: str) -> str:
    """The broker URL with its password hidden, for logs and errors."""
    params = pika.URLParameters(url)
    creds = params.credentials
    user = getattr(creds, "username", "")
    vhost = quote(params.virtual_host, safe="")
    return f"amqp{'s' if params.ssl_options else ''}://{user}:********@{params.host}:{params.port}/{vhost}"


def parameters(url: str, *, heartbeat: int | None = None, name: str = "omero-mail",
               blocked_timeout: float = 60.0) -> pika.URLParameters:
    params = pika.URLParameters(url)
    if heartbeat is not None:
        params.heartbeat = heartbeat
    # A broker alarm (memory, disk) blocks publishers; give up after a while instead of hanging.
    params.blocked_connection_timeout = blocked_timeout
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.client_properties = {"connection_name": name}
    return params


def declare_topology(url: str, topology: topo.Topology) -> None:
    """Declare exchanges, queues and bindings (idempotent); raise BrokerError on refusal."""
    try:
        connection = pika.BlockingConnection(parameters(url, name="omero-mail declare"))
    except pika.exceptions.AMQPError as exc:
        raise BrokerError(f"cannot connect to RabbitMQ at {redacted(url)}: {_describe(exc)}") from None
    try:
        channel = connection.channel()
        for exchange in topology.exchanges:
            channel.exchange_declare(exchange.name, exchange.type, durable=True)
        for queue in topology.queues:
            channel.queue_declare(queue.name, durable=True, arguments=queue.arguments)
        for binding in topology.bindings:
            channel.queue_bind(binding.queue, binding.exchange, binding.routing_key)
    except pika.exceptions.ChannelClosedByBroker as exc:
        raise BrokerError(f"RabbitMQ refused the topology: {exc.reply_text}") from None
    finally:
        if connection.is_open:
            connection.close()


def queue_depths(url: str, queues: Iterable[str]) -> dict[str, int]:
    """Messages ready in each queue (passive declare: nothing is created)."""
    depths = {}
    connection = pika.BlockingConnection(parameters(url, name="omero-mail depths"))
    try:
        for name in queues:
            channel = connection.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                depths[name] = 0
    finally:
        connection.close()
    return depths


def _describe(exc: BaseException) -> str:
    """The root cause of a pika error in a few words ("Connection refused")."""
    for _ in range(5):
        inner = (getattr(exc, "exceptions", None) or [None])[-1] or getattr(exc, "exception", None)
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            break
        exc = inner
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]


def properties(*, message_id: str, headers: dict | None = None,
               content_type: str = "application/json", timestamp: int | None = None,
               expiration: str | None = None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=content_type,
        delivery_mode=2,
        message_id=message_id,
        headers=headers or {},
        timestamp=timestamp if timestamp is not None else int(time.time()),
        expiration=expiration,
    )


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
        self._next_tag = 1
        self._pending: OrderedDict[int, tuple[str, Done | None]] = OrderedDict()
        self._returned: dict[str, str] = {}
        channel.confirm_delivery(self._on_confirm)
        channel.add_on_return_callback(self._on_return)

    def __len__(self) -> int:
        return len(self._pending)

    def publish(self, message: Message, done: Done | None) -> None:
        props = properties(message_id=message.message_id, headers=message.headers,
                           content_type=message.content_type)
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
            f"unroutable: no queue bound for {method.exchange or '(default)'}/{method.routing_key}"
            f" ({method.reply_text})"
        )

    def _on_confirm(self, frame) -> None:
        method = frame.method
        ok = isinstance(method, Basic.Ack)
        tags = [method.delivery_tag]
        if method.multiple:
            tags = [tag for tag in self._pending if tag <= method.delivery_tag]
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


class Publisher:
    """Publish messages and return once RabbitMQ confirmed every one of them.

    Confirms are pipelined: :meth:`publish_many` sends all, then waits for the acks.
    A connection lost mid-batch is reopened and the unconfirmed messages published again
    (at-least-once; message ids let consumers tell the copies apart).
    """

    def __init__(self, url: str, *, timeout: float = 30.0, attempts: int = 3, name: str = "omero-mail publisher"):
        self.url = url
        self.timeout = timeout
        self.attempts = attempts
        self.name = name
        self._connection: SelectConnection | None = None
        self._tracker: ConfirmTracker | None = None
        self._error: str | None = None
        #: Why RabbitMQ blocked this connection (a memory or disk alarm), while it does.
        self._blocked: str | None = None

    # -- one I/O loop, run until a condition holds --------------------------------
    def _run_until(self, condition: Callable[[], bool], what: str) -> None:
        assert self._connection is not None
        ioloop = self._connection.ioloop
        deadline = time.monotonic() + self.timeout
        wake = ioloop.call_later(self.timeout, lambda: None)  # so poll() returns by the deadline
        try:
            self._wait(ioloop, condition, deadline, what)
        finally:
            ioloop.remove_timeout(wake)

    def _wait(self, ioloop, condition, deadline: float, what: str) -> None:
        while not condition():
            if self._error:
                raise BrokerError(self._error)
            if time.monotonic() > deadline:
                if self._blocked:
                    raise BrokerError(f"RabbitMQ blocked publishing ({self._blocked}: a memory or disk alarm);"
                                      f" gave up after {self.timeout:g}s")
                raise BrokerError(f"timed out after {self.timeout:g}s waiting for RabbitMQ to {what}")
            ioloop.poll()
            ioloop.process_timeouts()

    def _open(self) -> None:
        if self._tracker is not None and self._connection is not None and self._connection.is_open:
            return
        self.close()
        self._error = None
        self._blocked = None
        ready = []

        def on_channel(channel):
            channel.add_on_close_callback(on_channel_closed)
            self._tracker = ConfirmTracker(channel)
            ready.append(True)

        def on_channel_closed(_channel, reason):
            self._error = f"RabbitMQ closed the channel: {_describe(reason)}"
            if self._tracker:
                self._tracker.fail_all(LOST + self._error)
            self._tracker = None

        def on_open(connection):
            connection.add_on_connection_blocked_callback(on_blocked)
            connection.add_on_connection_unblocked_callback(on_unblocked)
            connection.channel(on_open_callback=on_channel)

        def on_blocked(_connection, frame):
            self._blocked = getattr(frame.method, "reason", "") or "resource alarm"

        def on_unblocked(_connection, _frame):
            self._blocked = None

        def on_open_error(_connection, exc):
            self._error = f"cannot connect to RabbitMQ at {redacted(self.url)}: {_describe(exc)}"

        def on_closed(_connection, reason):
            if not self._error:
                self._error = f"connection to RabbitMQ lost: {_describe(reason)}"
            if self._tracker:
                self._tracker.fail_all(LOST + self._error)
            self._tracker = None

        self._connection = SelectConnection(
            parameters(self.url, name=self.name),
            on_open_callback=on_open, on_open_error_callback=on_open_error, on_close_callback=on_closed,
        )
        self._connection.ioloop.activate_poller()  # we drive the loop with poll(), not start()
        self._run_until(lambda: bool(ready), "open a channel")

    def publish_many(self, messages: Sequence[Message]) -> None:
        """Publish all; raise PublishError naming the first message not confirmed."""
        remaining = list(messages)
        for attempt in range(1, self.attempts + 1):
            try:
                self._open()
                self._publish_batch(remaining)
                return
            except _Unconfirmed as lost:
                remaining, error = lost.messages, lost.reason
            except PublishError:
                raise
            except BrokerError as exc:
                error = str(exc)
            self.close()
            # While blocked by an alarm, publishing again would only block again.
            if self._blocked or attempt == self.attempts:
                raise PublishError(f"{len(remaining)} message(s) not confirmed: {error}")
            log.warning("publish attempt %d failed (%s); publishing %d message(s) again",
                        attempt, error, len(remaining))
            time.sleep(min(0.5 * 2 ** attempt, 5.0))

    def _publish_batch(self, messages: list[Message]) -> None:
        """Publish and wait for every confirm.

        Raise PublishError for a message the broker refused (publishing it again would
        not help), _Unconfirmed with the messages whose fate is unknown when the
        connection is lost.
        """
        results: dict[int, str | None] = {}
        tracker = self._tracker
        assert tracker is not None
        for index, message in enumerate(messages):
            tracker.publish(message, lambda reason, index=index: results.__setitem__(index, reason))
        lost: BrokerError | None = None
        try:
            self._run_until(lambda: len(results) == len(messages), "confirm the messages")
        except BrokerError as exc:
            lost = exc
        for index, reason in sorted(results.items()):
            if reason and not reason.startswith(LOST):
                raise PublishError(f"message {messages[index].message_id} was not accepted: {reason}")
        # A confirm lost with the connection may have come in time or not: publish again.
        unknown = [i for i in range(len(messages)) if results.get(i, LOST) is not None]
        if unknown:
            raise _Unconfirmed([messages[i] for i in unknown], str(lost) if lost else results[unknown[0]])

    def publish(self, message: Message) -> None:
        self.publish_many([message])

    def close(self) -> None:
        connection, self._connection, self._tracker = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
                deadline = time.monotonic() + 5
                while not connection.is_closed and time.monotonic() < deadline:
                    connection.ioloop.poll()
                    connection.ioloop.process_timeouts()
            except Exception:  # noqa: BLE001 - closing is best effort
                log.debug("error while closing publisher connection", exc_info=True)

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
                 "content_type", "timestamp", "_tag", "_channel", "_settled")

    def __init__(self, channel: "_ChannelState", method, props, body: bytes):
        self.body = body
        self.headers = dict(props.headers or {})
        self.message_id = props.message_id
        self.content_type = props.content_type
        self.timestamp = props.timestamp
        self.redelivered = method.redelivered
        self.routing_key = method.routing_key
        self.exchange = method.exchange
        self._tag = method.delivery_tag
        self._channel = channel
        self._settled = False

    @property
    def live(self) -> bool:
        """False once the channel it came on is gone: the broker has put it back in its queue."""
        return self._channel.open

    def ack(self) -> None:
        self._channel.call(self._channel.settle, self, True, False)

    def nack(self, requeue: bool = True) -> None:
        self._channel.call(self._channel.settle, self, False, requeue)

    def publish(self, message: Message, done: Done | None = None) -> None:
        """Publish on this subscription's confirm channel; ``done`` gets the outcome."""
        self._channel.call(self._channel.publish, message, done)

    def publish_many(self, messages: Sequence[Message], done: Callable[[list], None]) -> None:
        """Publish several; ``done`` gets the list of reasons (None = confirmed), in order."""
        self._channel.call(self._channel.publish_many, messages, done)


class _ChannelState:
    """One open channel of the consumer, with its confirm tracker and unsettled deliveries."""

    def __init__(self, consumer: "Consumer", channel, subscription: Subscription):
        self.consumer = consumer
        self.channel = channel
        self.subscription = subscription
        # A stop waits for confirms too, so each one may be the last thing it waits for.
        self.tracker = ConfirmTracker(channel, after_confirm=consumer._after_settle)
        self.unsettled = 0
        self.consumer_tag: str | None = None

    @property
    def open(self) -> bool:
        return self.channel.is_open and self.consumer._channels.get(self.subscription.queue) is self

    def call(self, fn, *args) -> None:
        self.consumer._call(fn, *args)

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
        self.consumer._after_settle()

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
            self.publish(message, lambda reason, index=index: one(index, reason))

    def on_message(self, _channel, method, props, body) -> None:
        self.unsettled += 1
        self.consumer.last_message_at = time.monotonic()
        delivery = Delivery(self, method, props, body)
        try:
            self.subscription.handler(delivery)
        except Exception:  # noqa: BLE001 - a handler bug must not kill the loop
            log.exception("handler for %s failed; message returned to the queue", self.subscription.queue)
            if not delivery._settled:
                self.settle(delivery, False, True)


class Consumer:
    """Consume subscriptions on one connection; reconnect with a growing delay; stop cleanly.

    The steps of the protocol are one method each, as in pika's asynchronous consumer
    example: connect, open a channel per subscription, set prefetch and confirms, consume;
    on a lost connection, wait and start again; on :meth:`stop`, cancel the consumers, let
    in-flight messages be settled (up to ``drain_timeout``), then close.
    """

    def __init__(self, url: str, subscriptions: Sequence[Subscription], *, heartbeat: int = 60,
                 on_connect: Callable[[], None] | None = None, max_reconnect_delay: float = 30.0,
                 drain_timeout: float = 30.0, name: str = "omero-mail consumer"):
        self.url = url
        self.subscriptions = list(subscriptions)
        self.heartbeat = heartbeat
        self.on_connect = on_connect
        self.max_reconnect_delay = max_reconnect_delay
        self.drain_timeout = drain_timeout
        self.name = name
        self.connected = threading.Event()
        self.last_message_at: float | None = None
        self.reconnects = 0
        self._connection: SelectConnection | None = None
        self._channels: dict[str, _ChannelState] = {}
        self._stopping = threading.Event()
        self._draining = False
        self._io_thread: int | None = None

    # -- public ----------------------------------------------------------------
    def run(self) -> None:
        """Consume until :meth:`stop`; reconnect whenever the connection is lost."""
        delay = 1.0
        while not self._stopping.is_set():
            consumed = self._run_once()
            if self._stopping.is_set():
                break
            if consumed:
                delay = 1.0
            self.reconnects += 1
            log.warning("reconnecting to RabbitMQ at %s in %.0fs", redacted(self.url), delay)
            self._stopping.wait(delay)
            delay = min(delay * 2, self.max_reconnect_delay)
        log.info("consumer stopped")

    def stop(self) -> None:
        """Stop taking messages, let in-flight ones finish, then close. Thread-safe."""
        self._stopping.set()
        connection = self._connection
        if connection is not None:
            try:
                connection.ioloop.add_callback_threadsafe(self._begin_drain)
            except Exception:  # noqa: BLE001 - the loop may be gone already
                pass

    def call_soon(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the I/O loop. Thread-safe."""
        self._call(fn, *args)

    # -- the protocol steps ------------------------------------------------------
    def _run_once(self) -> bool:
        """One connection's life; True if it got as far as consuming."""
        self._consuming = False
        if self.on_connect is not None:
            try:
                self.on_connect()
            except BrokerError as exc:
                log.error("%s", exc)
                return False
        self._connection = SelectConnection(
            parameters(self.url, heartbeat=self.heartbeat, name=self.name),
            on_open_callback=self._on_connection_open,
            on_open_error_callback=self._on_connection_open_error,
            on_close_callback=self._on_connection_closed,
        )
        self._io_thread = threading.get_ident()
        try:
            self._connection.ioloop.start()
        finally:
            self.connected.clear()
            self._channels.clear()
            self._io_thread = None
        return self._consuming

    def _on_connection_open(self, connection) -> None:
        log.info("connected to RabbitMQ at %s", redacted(self.url))
        if self._stopping.is_set():
            connection.close()
            return
        for subscription in self.subscriptions:
            connection.channel(on_open_callback=lambda ch, s=subscription: self._on_channel_open(ch, s))

    def _on_connection_open_error(self, _connection, exc) -> None:
        log.error("cannot connect to RabbitMQ at %s: %s", redacted(self.url), _describe(exc))
        self._connection.ioloop.stop()

    def _on_connection_closed(self, _connection, reason) -> None:
        for state in list(self._channels.values()):
            state.tracker.fail_all(LOST + "connection closed")
        if not self._stopping.is_set():
            log.warning("connection to RabbitMQ closed: %s", _describe(reason))
        self._connection.ioloop.stop()

    def _on_channel_open(self, channel, subscription: Subscription) -> None:
        state = _ChannelState(self, channel, subscription)
        self._channels[subscription.queue] = state
        channel.add_on_close_callback(lambda ch, reason, s=state: self._on_channel_closed(s, reason))
        channel.basic_qos(prefetch_count=subscription.prefetch,
                          callback=lambda _frame, s=state: self._start_consuming(s))

    def _start_consuming(self, state: _ChannelState) -> None:
        if self._stopping.is_set():
            return
        state.consumer_tag = state.channel.basic_consume(state.subscription.queue, state.on_message)
        self._consuming = True
        if all(s.consumer_tag for s in self._channels.values()) and len(self._channels) == len(self.subscriptions):
            self.connected.set()
            log.info("consuming %s", ", ".join(s.queue for s in self.subscriptions))

    def _on_channel_closed(self, state: _ChannelState, reason) -> None:
        state.tracker.fail_all(LOST + "channel closed")
        if self._channels.get(state.subscription.queue) is state:
            del self._channels[state.subscription.queue]
        if self._stopping.is_set() or self._connection is None:
            return
        # A channel closed by the broker (a queue deleted, a precondition failed) is
        # recovered like a lost connection: close, wait, start again.
        log.warning("channel for %s closed: %s", state.subscription.queue, _describe(reason))
        if self._connection.is_open:
            self._connection.close()

    # -- stopping ------------------------------------------------------------------
    def _begin_drain(self) -> None:
        if self._draining or self._connection is None:
            return
        self._draining = True
        self.connected.clear()
        for state in self._channels.values():
            if state.consumer_tag and state.channel.is_open:
                state.channel.basic_cancel(state.consumer_tag)
        self._after_settle()
        self._connection.ioloop.call_later(self.drain_timeout, self._close)

    def _after_settle(self) -> None:
        if self._draining and all(s.unsettled == 0 and len(s.tracker) == 0 for s in self._channels.values()):
            self._close()

    def _close(self) -> None:
        connection = self._connection
        if connection is not None and connection.is_open:
            left = sum(s.unsettled for s in self._channels.values())
            if left:
                log.warning("closing with %d unsettled message(s); RabbitMQ returns them to their queue", left)
            connection.close()

    def _call(self, fn, *args) -> None:
        if threading.get_ident() == self._io_thread:
            fn(*args)
            return
        connection = self._connection
        if connection is None:
            return
        try:
            connection.ioloop.add_callback_threadsafe(lambda: fn(*args))
        except Exception:  # noqa: BLE001 - loop closed: the broker requeues the message
            log.debug("I/O loop gone; dropping a settle/publish", exc_info=True)


@dataclass(frozen=True)
class Parked:
    """A message read from a queue by :class:`QueueBrowser`, not yet taken off it."""

    tag: int
    body: bytes
    message_id: str
    headers: dict
    routing_key: str
    content_type: str


class QueueBrowser:
    """Read a whole queue without consuming it, then move or remove chosen messages.

    Every message is fetched with ``basic.get`` and left unacked; closing gives back
    whatever was not acked, in place (RabbitMQ requeues a closed channel's messages).
    :meth:`move` acks a message only after its copy was confirmed elsewhere, so a crash
    in between leaves it where it was rather than losing it.
    """

    def __init__(self, url: str, queue: str, *, name: str = "omero-mail parking"):
        self.queue = queue
        try:
            self._connection = pika.BlockingConnection(parameters(url, name=name))
        except pika.exceptions.AMQPError as exc:
            raise BrokerError(f"cannot connect to RabbitMQ at {redacted(url)}: {_describe(exc)}") from None
        self._channel = self._connection.channel()
        self._confirm = None

    def messages(self) -> list[Parked]:
        try:
            self._channel.queue_declare(self.queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            self._channel = self._connection.channel()
            return []
        found = []
        while True:
            method, props, body = self._channel.basic_get(self.queue, auto_ack=False)
            if method is None:
                return found
            found.append(Parked(method.delivery_tag, body, props.message_id or "", dict(props.headers or {}),
                                method.routing_key, props.content_type or "application/json"))

    def move(self, parked: Parked, message: Message) -> None:
        """Publish ``message`` with a confirm, then take ``parked`` off its queue."""
        if self._confirm is None:
            self._confirm = self._connection.channel()
            self._confirm.confirm_delivery()
        props = properties(message_id=message.message_id, headers=message.headers,
                           content_type=message.content_type)
        try:
            self._confirm.basic_publish(message.exchange, message.routing_key, message.body, props,
                                        mandatory=message.mandatory)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
            raise PublishError(f"message {message.message_id} was not accepted by RabbitMQ: "
                               f"{type(exc).__name__}") from None
        self.remove(parked)

    def remove(self, parked: Parked) -> None:
        self._channel.basic_ack(parked.tag)

    def close(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> "QueueBrowser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
