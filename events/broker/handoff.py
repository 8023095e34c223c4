"""Hand work from worker threads to the I/O loop with one wake-up per batch, not per call.

pika's ``add_callback_threadsafe`` writes to the loop's wake-up pipe on every call; with an
ack, a publish and an outcome per email from several worker threads, those writes and the
loop's reads of them were a tenth of the consumer's CPU. :class:`Handoff` queues the
callables and schedules one drain while a drain is pending, so a busy loop wakes once for
everything queued since its last wake-up. Order is kept (first queued, first run).

A loop that stops (its connection lost) never runs the drain it was given: pika's closed
``IOLoop`` accepts callbacks silently and drops them. So the consumer :meth:`Handoff.take`\\ s
what is still queued once its loop has stopped, and runs it there: an ack or a publish on a
channel that is gone then reports "lost" to whoever waits for it, instead of nothing.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class Handoff:
    """Queue ``fn(*args)`` for the loop behind ``schedule``; one ``schedule(drain)`` per batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch: tuple[object, list[tuple[Callable[..., Any], tuple[Any, ...]]]] | None = None

    def submit(self, schedule: Callable[[Callable[[], None]], None], fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)``; ``schedule`` is the loop's ``add_callback_threadsafe`` (it may raise)."""
        with self._lock:
            batch = self._batch
            if batch is not None and batch[0] is schedule_owner(schedule):
                batch[1].append((fn, args))
                return
            batch = (schedule_owner(schedule), [(fn, args)])
            self._batch = batch
        try:
            schedule(lambda: self._drain(batch))
        except BaseException:
            with self._lock:
                if self._batch is batch:
                    self._batch = None
            raise

    def take(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        """What is queued and not yet run, taken out: the drain scheduled for it will run none of it."""
        with self._lock:
            batch, self._batch = self._batch, None
            if batch is None:
                return []
            calls = list(batch[1])
            batch[1].clear()
        return calls

    def _drain(self, batch: tuple[object, list[tuple[Callable[..., Any], tuple[Any, ...]]]]) -> None:
        with self._lock:
            if self._batch is batch:
                self._batch = None
            calls = list(batch[1])
            batch[1].clear()
        failure: BaseException | None = None
        for fn, args in calls:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: B036 - the rest still run; the first failure is raised after
                failure = failure or exc
        if failure is not None:
            raise failure


def schedule_owner(schedule: Callable[..., Any]) -> object:
    """The loop a bound ``schedule`` method belongs to (the function itself when unbound)."""
    return getattr(schedule, "__self__", schedule)
