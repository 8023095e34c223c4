"""The :class:`Consumer`: run subscriptions on one connection, reconnect, stop cleanly.

Shaped as pika's asynchronous consumer example and kombu's ConsumerMixin: one method per
step of the protocol (connect to the first node of the list that answers, open a channel
per subscription, set its prefetch, consume;
settling is the channel's, see :mod:`events.broker.channel`; close), a reconnect with a
growing delay, and a :meth:`Consumer.stop` that lets in-flight work finish. The I/O loop
runs on the thread that called :meth:`Consumer.run` and only ever waits on the socket, so
heartbeats are answered while handlers' work runs on worker threads.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Sequence

from pika.adapters.select_connection import IOLoop
from tenacity import RetryCallState, Retrying, retry_if_result, wait_exponential_jitter

from .channel import ChannelState, Subscription
from .coalescing import CoalescingConnection
from .connection import describe, node, parameters, redacted
from .errors import BrokerError
from .handoff import Handoff

log = logging.getLogger(__name__)

#: Seconds to wait after losing a connection that was consuming, before connecting again:
#: enough not to spin on a channel the broker keeps closing.
RECONNECT_PAUSE = 1.0


class Consumer:
    """Consume subscriptions on one connection; reconnect with a growing delay; stop cleanly.

    ``on_connect`` runs before each connection (it declares the topology); a
    :class:`BrokerError` from it counts as a failed connection. On :meth:`stop`, the
    consumers are cancelled and in-flight messages settled (up to ``drain_timeout``).
    """

    def __init__(self, url: str, subscriptions: Sequence[Subscription], *, heartbeat: int = 60,
                 on_connect: Callable[[], None] | None = None, max_reconnect_delay: float = 30.0,
                 drain_timeout: float = 30.0, name: str = "omero-mail consumer"):
        self.url = url
        parameters(url)  # a bad list of addresses is refused now, not at the first connection
        self.subscriptions = list(subscriptions)
        self.heartbeat = heartbeat
        self.on_connect = on_connect
        self.max_reconnect_delay = max_reconnect_delay
        self.drain_timeout = drain_timeout
        self.name = name
        self.connected = threading.Event()
        self.last_message_at: float | None = None
        self.reconnects = 0
        #: Queues that delivered a message on this connection: with a single active
        #: consumer, a queue missing here is one this consumer stands by on.
        self.receiving: set[str] = set()
        #: The node (``host:port``) of the open connection, or None.
        self.node: str | None = None
        self._ioloop: IOLoop | None = None
        self._connection: CoalescingConnection | None = None
        self._channels: dict[str, ChannelState] = {}
        self._consuming = False
        self._stopping = threading.Event()
        self._draining = False
        self._io_thread: int | None = None
        self._handoff = Handoff()
        #: Why the last connection failed before consuming, said with the wait that follows it.
        self._failure: str | None = None

    # -- public ----------------------------------------------------------------
    def run(self) -> None:
        """Consume until :meth:`stop`; connect again whenever the connection is lost.

        Connections that fail before consuming are tried again after tenacity's waits
        (exponential with jitter, capped at ``max_reconnect_delay``). One lost after it
        consumed is followed by :data:`RECONNECT_PAUSE`, and the waits start afresh.
        """
        while True:
            self._connect_until_consuming()
            if self._stopping.is_set():
                break
            self._reconnecting_in(RECONNECT_PAUSE)
            self._stopping.wait(RECONNECT_PAUSE)
        log.info("consumer stopped")

    def stop(self) -> None:
        """Stop taking messages, let in-flight ones finish, then close. Thread-safe."""
        self._stopping.set()
        ioloop = self._ioloop
        if ioloop is not None:
            try:
                ioloop.add_callback_threadsafe(self._begin_drain)
            except Exception:  # noqa: BLE001 - the loop may be gone already
                pass

    def call_soon(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on the I/O loop, in order; one wake-up per batch (:mod:`.handoff`). Thread-safe.

        With no loop running (the connection lost, the next not yet open) it runs here and now:
        the channels it touches are retired, so an ack is a no-op (the broker requeued the
        message) and a publish tells its ``done`` that it was lost. Nothing waits forever.
        """
        if threading.get_ident() == self._io_thread or not self._handoff.submit(fn, *args):
            fn(*args)

    def _run_left_over(self) -> None:
        """Run what was handed to the loop that has just stopped and that it never ran (see :meth:`call_soon`)."""
        for fn, args in self._handoff.take():
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - one failed callback must not strand the rest
                log.exception("settling after the connection was lost failed")

    def _connect_until_consuming(self) -> None:
        """Connect, and again after tenacity's wait each time a connection fails before consuming."""
        Retrying(retry=retry_if_result(lambda consumed: not consumed and not self._stopping.is_set()),
                 wait=wait_exponential_jitter(initial=1.0, max=self.max_reconnect_delay),
                 sleep=self._wait,
                 before_sleep=self._reconnecting,
                 )(self._connect)

    def _wait(self, seconds: float) -> None:
        """Tenacity's sleep between attempts, cut short by :meth:`stop`."""
        self._stopping.wait(seconds)

    def _reconnecting(self, retry_state: RetryCallState) -> None:
        action = retry_state.next_action
        self._reconnecting_in(action.sleep if action is not None else 0.0)

    def _reconnecting_in(self, delay: float) -> None:
        self.reconnects += 1
        failure, self._failure = self._failure, None
        if failure:
            log.warning("%s; trying again in %.0fs", failure, delay)
        else:
            log.warning("reconnecting to RabbitMQ at %s in %.0fs", redacted(self.url), delay)

    # -- the protocol steps, in order ----------------------------------------------
    def _connect(self) -> bool:
        """One connection's life, its I/O loop run here; True if it got as far as consuming."""
        if self._stopping.is_set():
            return False
        self._consuming = False
        self.receiving = set()
        if self.on_connect is not None:
            try:
                self.on_connect()
            except BrokerError as exc:
                self._failure = str(exc)
                return False
        # pika tries the nodes in turn and hands over the first connection that opens.
        self._connection = None
        self._ioloop = IOLoop()
        self._handoff.open(self._ioloop.add_callback_threadsafe)
        CoalescingConnection.create_connection(parameters(self.url, heartbeat=self.heartbeat, name=self.name),
                                           self._on_connection_done, custom_ioloop=self._ioloop)
        self._io_thread = threading.get_ident()
        try:
            self._ioloop.start()
        finally:
            self.connected.clear()
            self.node = None
            for state in self._channels.values():
                state.retire("connection closed")
            self._channels.clear()
            self._run_left_over()
            self._io_thread = None
            self._ioloop.close()
        return self._consuming

    def _on_connection_done(self, result) -> None:
        if isinstance(result, BaseException):
            self._on_connection_open_error(result)
            return
        self._connection = result
        result.add_on_close_callback(self._on_connection_closed)
        self._on_connection_open(result)

    def _on_connection_open(self, connection) -> None:
        self.node = node(connection.params)
        log.info("connected to RabbitMQ at %s (node %s)", redacted(self.url), self.node)
        if self._stopping.is_set():
            connection.close()
            return
        for subscription in self.subscriptions:
            self._open_channel(connection, subscription)

    def _open_channel(self, connection, subscription: Subscription) -> None:
        connection.channel(on_open_callback=lambda channel: self._on_channel_open(channel, subscription))

    def _on_channel_open(self, channel, subscription: Subscription) -> None:
        state = ChannelState(channel, subscription, call_soon=self.call_soon,
                             after_settle=self._after_settle, received=self._received)
        self._channels[subscription.queue] = state
        channel.add_on_close_callback(lambda _channel, reason: self._on_channel_closed(state, reason))
        self._set_qos(state)

    def _set_qos(self, state: ChannelState) -> None:
        state.channel.basic_qos(prefetch_count=state.subscription.prefetch,
                                callback=lambda _frame: self._start_consuming(state))

    def _start_consuming(self, state: ChannelState) -> None:
        if self._stopping.is_set():
            return
        state.consume()
        self._consuming = True
        if len(self._channels) == len(self.subscriptions) and all(s.consumer_tag for s in self._channels.values()):
            self.connected.set()
            log.info("consuming %s", ", ".join(s.queue for s in self.subscriptions))

    def _received(self, queue: str) -> None:
        self.last_message_at = time.monotonic()
        self.receiving.add(queue)

    # -- losing the connection or a channel ----------------------------------------
    def _on_connection_open_error(self, exc) -> None:
        self._failure = f"cannot connect to RabbitMQ at {redacted(self.url)}: {describe(exc)}"
        self._stop_loop()

    def _on_connection_closed(self, _connection, reason) -> None:
        for state in list(self._channels.values()):
            state.retire("connection closed")
        if not self._stopping.is_set():
            log.warning("connection to RabbitMQ node %s closed: %s", self.node, describe(reason))
        self._stop_loop()

    def _stop_loop(self) -> None:
        """Called on the I/O loop, so it is there; its start() in :meth:`_connect` then returns."""
        if self._ioloop is not None:
            self._ioloop.stop()

    def _on_channel_closed(self, state: ChannelState, reason) -> None:
        state.retire("channel closed")
        if self._channels.get(state.subscription.queue) is state:
            del self._channels[state.subscription.queue]
        if self._stopping.is_set() or self._connection is None:
            return
        # A channel closed by the broker (a queue deleted, a precondition failed) is
        # recovered like a lost connection: close, wait, start again.
        log.warning("channel for %s closed: %s", state.subscription.queue, describe(reason))
        if self._connection.is_open:
            self._connection.close()

    # -- stopping --------------------------------------------------------------------
    def _begin_drain(self) -> None:
        if self._draining or self._connection is None:
            return
        self._draining = True
        self.connected.clear()
        for state in self._channels.values():
            state.cancel()
        self._after_settle()
        self._connection.ioloop.call_later(self.drain_timeout, self._close)

    def _after_settle(self) -> None:
        if self._draining and all(state.idle for state in self._channels.values()):
            self._close()

    def _close(self) -> None:
        connection = self._connection
        if connection is not None and connection.is_open:
            left = sum(s.unsettled for s in self._channels.values())
            if left:
                log.warning("closing with %d unsettled message(s); RabbitMQ returns them to their queue", left)
            connection.close()
