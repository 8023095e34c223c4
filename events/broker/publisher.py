"""The :class:`Publisher`: publish, and return once RabbitMQ confirmed every message.

It owns one pika SelectConnection and drives its I/O loop itself (``poll()``, never
``start()``), only while it waits for something: a channel, the confirms of a batch, or
the time given to :meth:`Publisher.sleep`. Confirms are pipelined: a batch is sent whole,
then its acks are collected. A connection lost mid-batch is reopened and the messages
whose confirm never came are published again (at-least-once; consumers tell the copies
apart by message id). tenacity spaces the attempts out; a login RabbitMQ refuses is not
tried again. When the attempts are spent, the error names the messages: never published
(no connection opened), or of unknown fate (:class:`PublishError`: they may still be
delivered, and a caller that publishes them again keeps their ids so the consumers know
the copies).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Callable, Sequence

from pika.adapters.select_connection import IOLoop, SelectConnection
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from .confirms import ConfirmTracker, Message
from .connection import describe, parameters, redacted, refused_login
from .errors import LOST, BrokerError, PublishError

log = logging.getLogger(__name__)


class _Unconfirmed(BrokerError):
    """The connection was lost before these messages' confirms came: publish them again."""

    def __init__(self, messages: list, reason: str):
        super().__init__(reason)
        self.messages = messages


def _ids(messages: Sequence[Message], shown: int = 3) -> str:
    ids = ", ".join(m.message_id for m in messages[:shown])
    return ids + (f" and {len(messages) - shown} more" if len(messages) > shown else "")


class Publisher:
    """Publish messages and return once RabbitMQ confirmed every one of them.

    ``timeout`` bounds each wait for the broker; ``attempts`` is how many times a batch is
    tried, a fresh connection each time, before :class:`PublishError` says what was lost.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, attempts: int = 3, name: str = "omero-mail publisher"):
        self.url = url
        parameters(url)  # a bad list of addresses is refused now, not at the first publish
        self.timeout = timeout
        self.attempts = attempts
        self.name = name
        self._connection: SelectConnection | None = None
        self._ioloop: IOLoop | None = None
        self._tracker: ConfirmTracker | None = None
        self._error: str | None = None
        #: RabbitMQ refused the last connection's login: no attempt will do better.
        self._refused = False
        #: Why RabbitMQ blocked this connection (a memory or disk alarm), while it does.
        self._blocked: str | None = None

    # -- publishing ----------------------------------------------------------------
    def publish(self, message: Message) -> None:
        self.publish_many([message])

    def publish_many(self, messages: Sequence[Message]) -> None:
        """Publish all; raise PublishError naming the first message not confirmed."""
        remaining = list(messages)
        sent = False

        def attempt() -> None:
            nonlocal remaining, sent
            try:
                self._open()
                sent = True
                self._publish_batch(remaining)
            except _Unconfirmed as lost:
                remaining = lost.messages
                self.close()
                raise
            except PublishError:
                raise
            except BrokerError:
                self.close()
                raise

        def worth_another_attempt(exc: BaseException) -> bool:
            # A refused message or login would be refused again; while blocked by an alarm,
            # publishing again would only block again.
            return (isinstance(exc, BrokerError) and not isinstance(exc, PublishError) and not self._blocked
                    and not self._refused)

        def before_sleep(retry_state) -> None:
            log.warning("publish attempt %d failed (%s); publishing %d message(s) again",
                        retry_state.attempt_number, retry_state.outcome.exception(), len(remaining))

        retrying = Retrying(stop=stop_after_attempt(self.attempts),
                            wait=wait_exponential_jitter(initial=1.0, max=5.0),
                            retry=retry_if_exception(worth_another_attempt),
                            before_sleep=before_sleep, reraise=True)
        try:
            retrying(attempt)
        except PublishError:
            raise
        except BrokerError as exc:
            if not sent:
                raise BrokerError(f"{len(remaining)} message(s) not published ({_ids(remaining)}): {exc}") from None
            raise PublishError(f"{len(remaining)} message(s) not confirmed ({_ids(remaining)}): {exc}; "
                               "RabbitMQ may still deliver them: publish again with the same id") from None

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
            tracker.publish(message, functools.partial(results.__setitem__, index))
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
            # Without a lost connection every message has its result, and an unknown one says LOST.
            raise _Unconfirmed([messages[i] for i in unknown], str(lost) if lost else results.get(unknown[0]) or LOST)

    # -- waiting ---------------------------------------------------------------------
    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` with the connection alive: heartbeats answered, a close noticed.

        A caller that publishes now and then (the bridge, between polls of OMERO) waits
        here instead of in ``time.sleep``, during which RabbitMQ would see no heartbeats
        and close the connection. With no connection open this is ``time.sleep``.
        """
        deadline = time.monotonic() + seconds
        connection = self._connection
        if connection is not None and connection.is_open:
            ioloop = connection.ioloop
            wake = ioloop.call_later(seconds, lambda: None)  # so poll() returns by the deadline
            try:
                while not connection.is_closed and time.monotonic() < deadline:
                    ioloop.poll()
                    ioloop.process_timeouts()
            finally:
                ioloop.remove_timeout(wake)
        time.sleep(max(0.0, deadline - time.monotonic()))

    def _run_until(self, condition: Callable[[], bool], what: str) -> None:
        ioloop = self._ioloop
        assert ioloop is not None
        deadline = time.monotonic() + self.timeout
        wake = ioloop.call_later(self.timeout, lambda: None)  # so poll() returns by the deadline
        try:
            while not condition():
                if self._error:
                    raise BrokerError(self._error)
                if time.monotonic() > deadline:
                    raise BrokerError(self._timed_out(what))
                ioloop.poll()
                ioloop.process_timeouts()
        finally:
            ioloop.remove_timeout(wake)

    def _timed_out(self, what: str) -> str:
        if self._blocked:
            return (f"RabbitMQ blocked publishing ({self._blocked}: a memory or disk alarm);"
                    f" gave up after {self.timeout:g}s")
        return f"timed out after {self.timeout:g}s waiting for RabbitMQ to {what}"

    # -- the connection ----------------------------------------------------------------
    def _open(self) -> None:
        if self._tracker is not None and self._connection is not None and self._connection.is_open:
            return
        self.close()
        self._error = None
        self._refused = False
        self._blocked = None
        ready = []

        def on_open(connection):
            connection.add_on_connection_blocked_callback(on_blocked)
            connection.add_on_connection_unblocked_callback(on_unblocked)
            connection.channel(on_open_callback=on_channel)

        def on_done(result):
            if isinstance(result, BaseException):
                self._error = f"cannot connect to RabbitMQ at {redacted(self.url)}: {describe(result)}"
                self._refused = refused_login(result)
                return
            self._connection = result
            result.add_on_close_callback(on_closed)
            on_open(result)

        def on_channel(channel):
            channel.add_on_close_callback(on_channel_closed)
            self._tracker = ConfirmTracker(channel)
            ready.append(True)

        def on_channel_closed(_channel, reason):
            self._lose(f"RabbitMQ closed the channel: {describe(reason)}")

        def on_blocked(_connection, frame):
            self._blocked = getattr(frame.method, "reason", "") or "resource alarm"

        def on_unblocked(_connection, _frame):
            self._blocked = None

        def on_closed(_connection, reason):
            self._lose(self._error or f"connection to RabbitMQ lost: {describe(reason)}")

        # pika tries the nodes in turn and hands over the first connection that opens.
        self._ioloop = IOLoop()
        SelectConnection.create_connection(parameters(self.url, name=self.name), on_done, custom_ioloop=self._ioloop)
        self._ioloop.activate_poller()  # we drive the loop with poll(), not start()
        self._run_until(lambda: bool(ready), "open a channel")

    def _lose(self, error: str) -> None:
        """The channel or connection is gone: every publish still waiting for a confirm is lost."""
        self._error = error
        if self._tracker:
            self._tracker.fail_all(LOST + error)
        self._tracker = None

    def close(self) -> None:
        connection, self._connection, self._tracker = self._connection, None, None
        ioloop, self._ioloop = self._ioloop, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
                deadline = time.monotonic() + 5
                while not connection.is_closed and time.monotonic() < deadline:
                    connection.ioloop.poll()
                    connection.ioloop.process_timeouts()
            except Exception:  # noqa: BLE001 - closing is best effort
                log.debug("error while closing publisher connection", exc_info=True)
        if ioloop is not None:
            ioloop.close()

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
