"""The web process's publisher thread: a request hands its event over and never waits.

A request thread only appends its event to a bounded queue (:meth:`WebPublisher.submit`)
and returns at once, so concurrent reports are not served in turn and none waits for the
broker. One thread publishes the queue's events, confirmed, over one long-lived connection
(no connection per event in a storm of broken links), and answers the broker's heartbeats
while idle. An event not confirmed within ``timeout`` seconds of its report, or reported
while ``capacity`` events are already waiting, is spooled instead (``spool``, given by the
caller). A second thread keeps that bound while the first waits on a slow or blocked broker
(a memory or disk alarm), whose waits and closing the publisher does not cut short.

An event the watchdog spooled may still be confirmed afterwards; both copies carry the
event's id, which the rules stage folds into one (DESIGN.md, "Who publishes, and who may").
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from events import topology as topo

log = logging.getLogger(__name__)

#: How often the idle publisher thread lets the connection answer heartbeats.
IDLE_POLL = 0.5


@dataclass(eq=False)
class Pending:
    """One event on its way: its JSON line, where it is spooled if need be, and until when it may wait."""

    event_id: str
    body: bytes
    spool_path: str
    deadline: float = 0.0
    #: Set once, under the lock, by whoever publishes or spools the event first.
    settled: bool = False


Spool = Callable[[Pending, str], None]


class WebPublisher:
    def __init__(self, url: str, timeout: float, capacity: int, spool: Spool):
        from events.broker import Publisher

        # Made here, so that a broker URL that cannot be used is refused to the caller.
        self._publisher = Publisher(url, timeout=timeout, attempts=1, name="omero-web")
        self.url = url
        self.timeout = timeout
        self.capacity = capacity
        self.pid = os.getpid()
        self._spool = spool
        self._changed = threading.Condition()
        self._waiting: deque[Pending] = deque()
        self._current: Pending | None = None
        self._stopping = False
        self._threads = [threading.Thread(target=self._publish_loop, name="omero-mail web publisher", daemon=True),
                         threading.Thread(target=self._watch, name="omero-mail web publish bound", daemon=True)]
        for thread in self._threads:
            thread.start()

    def submit(self, pending: Pending) -> None:
        """Queue the event for the publisher thread, or spool it at once when the queue is full."""
        with self._changed:
            accepted = len(self._waiting) < self.capacity and not self._stopping
            if accepted:
                pending.deadline = time.monotonic() + self.timeout
                self._waiting.append(pending)
                self._changed.notify_all()
        if not accepted:
            self._settle_by_spooling(pending, f"{self.capacity} web.error events already waiting to be published")

    def stop(self) -> None:
        """Spool what still waits, let the event in flight finish within its bound, close the connection."""
        with self._changed:
            self._stopping = True
            left = list(self._waiting)
            self._waiting.clear()
            self._changed.notify_all()
        for pending in left:
            self._settle_by_spooling(pending, "the web process stopped before it was published")
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(self.timeout + 1.0)

    # -- the publisher thread ----------------------------------------------------------
    def _publish_loop(self) -> None:
        publisher = self._publisher
        try:
            while True:
                pending = self._next()
                if pending is not None:
                    self._publish(publisher, pending)
                elif self._stopping:
                    return
                else:
                    self._idle(publisher)
        finally:
            publisher.close()

    @staticmethod
    def _idle(publisher) -> None:
        """Let the idle connection answer heartbeats, or notice that the broker closed it."""
        try:
            publisher.sleep(0.01)
        except Exception:  # noqa: BLE001 - the next event opens a new connection
            log.debug("the idle publisher connection failed", exc_info=True)
            publisher.close()

    def _next(self) -> Pending | None:
        with self._changed:
            if not self._waiting and not self._stopping:
                self._changed.wait(IDLE_POLL)
            self._current = self._waiting.popleft() if self._waiting else None
            return self._current

    def _publish(self, publisher, pending: Pending) -> None:
        from events.broker import Message

        reason: str | None = None
        remaining = pending.deadline - time.monotonic()
        if remaining <= 0:
            reason = self._late()
        else:
            publisher.timeout = remaining
            try:
                publisher.publish(Message(topo.EVENTS_EXCHANGE, "web.error", pending.body, pending.event_id))
            except Exception as exc:  # noqa: BLE001 - whatever went wrong, the event is spooled
                reason = str(exc)
        with self._changed:
            self._current = None
            first = not pending.settled
            pending.settled = True
        if reason is not None and first:
            self._spool(pending, reason)
        elif reason is None and not first:
            log.info("web.error event %s was confirmed after it had been spooled; both copies have its id",
                     pending.event_id)

    # -- the bound -----------------------------------------------------------------------
    def _watch(self) -> None:
        """Spool every event whose bound has passed, waiting or in flight."""
        while True:
            with self._changed:
                if self._stopping and not self._waiting and self._current is None:
                    return
                late = self._take_late(time.monotonic())
                if not late:
                    self._changed.wait(self._until_next_deadline())
            for pending in late:
                self._spool(pending, self._late())

    def _take_late(self, now: float) -> list[Pending]:
        late = []
        # One timeout for all: the queue is in deadline order.
        while self._waiting and self._waiting[0].deadline <= now:
            late.append(self._waiting.popleft())
        current = self._current
        if current is not None and not current.settled and current.deadline <= now:
            late.append(current)
        for pending in late:
            pending.settled = True
        return late

    def _until_next_deadline(self) -> float:
        deadlines = [p.deadline for p in (self._waiting[0] if self._waiting else None, self._current)
                     if p is not None and not p.settled]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else IDLE_POLL

    def _settle_by_spooling(self, pending: Pending, reason: str) -> None:
        with self._changed:
            first = not pending.settled
            pending.settled = True
        if first:
            self._spool(pending, reason)

    def _late(self) -> str:
        return f"RabbitMQ did not confirm it within {self.timeout:g}s"
