"""What the parking pages show: each lot as last read, shared by every page of the process.

Reading a lot is reading every message in it (RabbitMQ shows no queue in place), about a
second for 10,000, and while it reads nobody else sees them; a page must come in a few
hundred milliseconds. So each lot is read once into a :class:`Snapshot`, and a page is served
from it: a snapshot older than :data:`MAX_AGE` is still served while one new read runs in the
background, so a page is at most :data:`MAX_AGE` plus one read behind the lot (it says when
it was read, and "Read again" reads at once). Nothing is held between reads: every read gives
back what it read before it ends (``consumer/admin/attendant.py``).

Reads and acts on one lot take turns (:meth:`Snapshots.working`): an act takes its chosen
messages while no read of this process holds them, and the lot is read again after it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..parking import Entry

log = logging.getLogger(__name__)

#: Seconds a snapshot is served without starting a new read.
MAX_AGE = 10.0


@dataclass(frozen=True)
class Snapshot:
    entries: tuple[Entry, ...]
    read_at: datetime
    #: time.monotonic() when the read ended.
    taken: float
    by_key: dict[str, list[Entry]] = field(repr=False)

    @classmethod
    def of(cls, entries: list[Entry]) -> "Snapshot":
        by_key: dict[str, list[Entry]] = {}
        for item in entries:
            by_key.setdefault(item.parked.key, []).append(item)
        return cls(tuple(entries), datetime.now(timezone.utc), time.monotonic(), by_key)

    @property
    def age(self) -> float:
        return time.monotonic() - self.taken


class Snapshots:
    """The last snapshot of each lot, read by ``read(lot)``."""

    def __init__(self, read: Callable[[str], list[Entry]], max_age: float = MAX_AGE):
        self._read = read
        self.max_age = max_age
        self._kept: dict[str, Snapshot] = {}
        self._turns: dict[str, threading.Lock] = {}
        self._reading: set[str] = set()
        self._lock = threading.Lock()

    def current(self, lot: str) -> Snapshot:
        """The lot as last read: read now if never read, in the background if older than ``max_age``."""
        with self._lock:
            kept = self._kept.get(lot)
            stale = kept is not None and kept.age > self.max_age and lot not in self._reading
            if stale:
                self._reading.add(lot)
        if kept is None:
            return self.refresh(lot)
        if stale:
            threading.Thread(target=self._refresh_behind, args=(lot,), name=f"read {lot}", daemon=True).start()
        return kept

    def refresh(self, lot: str) -> Snapshot:
        """Read the lot now (after any act on it in progress); BrokerError if it cannot be read."""
        with self._turn(lot):
            return self._store(lot)

    def working(self, lot: str):
        """Hold the lot's turn: no read of this process runs meanwhile. Read it with :meth:`refreshed`."""
        return self._turn(lot)

    def refreshed(self, lot: str) -> Snapshot:
        """Read the lot now, for the holder of its turn (:meth:`working`)."""
        return self._store(lot)

    def _store(self, lot: str) -> Snapshot:
        snapshot = Snapshot.of(self._read(lot))
        with self._lock:
            self._kept[lot] = snapshot
        return snapshot

    def _refresh_behind(self, lot: str) -> None:
        try:
            self.refresh(lot)
        except Exception as exc:  # the last snapshot stays served; the next page tries again
            log.warning("could not read %s again: %s", lot, exc)
        finally:
            with self._lock:
                self._reading.discard(lot)

    def _turn(self, lot: str) -> threading.Lock:
        with self._lock:
            return self._turns.setdefault(lot, threading.Lock())
