"""Hand work from worker threads to the I/O loop with one wake-up per batch, not per call.

pika's ``add_callback_threadsafe`` writes to the loop's wake-up pipe on every call; with an
ack, a publish and an outcome per email from several worker threads, those writes and the
loop's reads of them were a tenth of the consumer's CPU. :class:`Handoff` queues the
callables and schedules one drain while a drain is pending, so a busy loop wakes once for
everything queued since its last wake-up. Order is kept (first queued, first run).

A loop that stops (its connection lost) never runs the drain it was given: pika's stopped
``IOLoop`` accepts callbacks silently and drops them. So the handoff knows which loop is
open: the consumer :meth:`Handoff.open`\\ s it with the loop's ``add_callback_threadsafe``,
and once the loop has stopped it :meth:`Handoff.take`\\ s what is still queued and runs it
there. From then until the next loop opens, :meth:`Handoff.submit` refuses (returns False)
and the caller runs its callable itself: an ack or a publish on a channel that is gone
then reports "lost" to whoever waits for it, instead of nothing.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

Call = tuple[Callable[..., Any], tuple[Any, ...]]


class Handoff:
    """Queue ``fn(*args)`` for the open loop; one ``schedule(drain)`` per batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: The open loop's ``add_callback_threadsafe``; None while no loop runs what it is given.
        self._schedule: Callable[[Callable[[], None]], None] | None = None
        self._batch: list[Call] | None = None

    def open(self, schedule: Callable[[Callable[[], None]], None]) -> None:
        """A loop runs from now on; ``schedule`` is its ``add_callback_threadsafe``."""
        with self._lock:
            self._schedule = schedule

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue ``fn(*args)`` for the open loop; False (nothing queued) when no loop is open."""
        with self._lock:
            schedule = self._schedule
            if schedule is None:
                return False
            if self._batch is not None:
                self._batch.append((fn, args))
                return True
            batch = self._batch = [(fn, args)]
        try:
            schedule(lambda: self._drain(batch))
        except Exception:  # noqa: BLE001 - the loop is stopping: take() will run the batch
            log.debug("could not wake the I/O loop; its batch waits for take()", exc_info=True)
        return True

    def take(self) -> list[Call]:
        """The loop has stopped: close, and return what is queued and not yet run (no drain will run it)."""
        with self._lock:
            self._schedule = None
            batch, self._batch = self._batch, None
            return self._emptied(batch) if batch is not None else []

    def _drain(self, batch: list[Call]) -> None:
        with self._lock:
            if self._batch is batch:
                self._batch = None
            calls = self._emptied(batch)
        failure: BaseException | None = None
        for fn, args in calls:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: B036 - the rest still run; the first failure is raised after
                failure = failure or exc
        if failure is not None:
            raise failure

    @staticmethod
    def _emptied(batch: list[Call]) -> list[Call]:
        """The batch's calls, leaving it empty: whichever of the drain and take() comes second runs none."""
        calls = list(batch)
        batch.clear()
        return calls
