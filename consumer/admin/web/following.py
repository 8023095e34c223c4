"""What the web process follows for its pages, shared by every page that asks, stopped when none asks.

A broadcast's page polls its progress twice a second. Reading the broadcast's results queue
at every poll would cost a connection and a read of up to 20,000 outcomes each time, so one
:class:`results.Reader` per broadcast follows it for every page and every admin that polls
it: started at the first poll, asked for a snapshot at each, stopped once nobody polled it
for :data:`IDLE` seconds. The broadcasts page lists the recent broadcasts from one
:class:`results.Recent` the same way (:data:`INDEX_IDLE`). A broadcast nobody follows (a
row of the broadcasts page) is read whole with ``results.read_all``, its answer kept a few
seconds.

None of this touches the emails: the consumers send them whether a page follows them or
not, so closing a tab, logging out or restarting the web app changes nothing for them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Generic, Protocol, TypeVar

from events.broker.errors import BrokerError

from .. import results

log = logging.getLogger(__name__)
#: Seconds a broadcast's reader lives after its last poll; the index after its last listing.
IDLE = 60.0
INDEX_IDLE = 600.0
#: Seconds a broadcast nobody follows is answered from its last read: finished, or still going.
SETTLED_FOR, GOING_FOR = 30.0, 3.0
#: Seconds the first poll waits for a reader to have read what its broadcast holds.
START_TIMEOUT = 30.0
#: Seconds a reader lets outcomes gather between two reads: the page polls every half second.
GATHER = 0.25


class Startable(Protocol):
    @property
    def error(self) -> str | None: ...

    def start(self, timeout: float = ...) -> bool: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


class Unreadable(Exception):
    """What a page asked for cannot be followed now; the message says why."""


@dataclass
class _Entry(Generic[S]):
    thing: S
    used: float
    ready: threading.Event = field(default_factory=threading.Event)
    started: bool = False


class Kept(Generic[S]):
    """Things started at their first use and stopped after ``idle`` seconds without one (thread-safe)."""

    def __init__(self, idle: float, clock: Callable[[], float] = time.monotonic):
        self.idle = idle
        self.clock = clock
        self._entries: dict[str, _Entry[S]] = {}
        self._lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    def use(self, key: str, make: Callable[[], S]) -> S:
        """The thing kept under ``key``, made and started by the first caller, which the others wait for."""
        with self._lock:
            entry = self._entries.get(key)
            first = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry(make(), self.clock())
                self._sweep_later()
            entry.used = self.clock()
        if first:
            try:
                entry.started = entry.thing.start(START_TIMEOUT)
            finally:
                entry.ready.set()
        elif not entry.ready.wait(START_TIMEOUT + 5):
            raise Unreadable("still reading what is kept: try again in a moment")
        if not entry.started or entry.thing.error:
            # Never started, or its follower gave up since: the next use starts afresh, none answers stale counts.
            self._forget(key, entry)
            raise Unreadable(entry.thing.error or "RabbitMQ did not answer in time")
        return entry.thing

    def peek(self, key: str) -> S | None:
        """The thing kept under ``key`` if it is started, without counting this as a use."""
        with self._lock:
            entry = self._entries.get(key)
        return entry.thing if entry is not None and entry.started else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget(self, key: str, entry: _Entry[S]) -> None:
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        entry.thing.stop()

    def _sweep_later(self) -> None:
        if self._sweeper is None or not self._sweeper.is_alive():
            self._sweeper = threading.Thread(target=self._sweep, name="omero-mail-web-sweeper", daemon=True)
            self._sweeper.start()

    def _sweep(self) -> None:
        """Stop what was not used for ``idle`` seconds; end when nothing is kept."""
        while True:
            time.sleep(min(5.0, self.idle / 4))
            with self._lock:
                now = self.clock()
                idle = [(key, entry) for key, entry in self._entries.items()
                        if entry.ready.is_set() and now - entry.used >= self.idle]
                for key, _ in idle:
                    del self._entries[key]
                done = not self._entries
                if done:
                    self._sweeper = None
            for _, entry in idle:
                entry.thing.stop()
            if done:
                return


readers: Kept[results.Reader] = Kept(IDLE)
index: Kept[results.Recent] = Kept(INDEX_IDLE)
_read: dict[str, tuple[float, results.Tally]] = {}
_read_lock = threading.Lock()


def exists(url: str, event_id: str) -> bool:
    """Whether the broadcast's outcomes are kept (queued with this ID, not yet expired)."""
    from events import topology as topo
    from events.broker import existing_queues

    return bool(existing_queues(url, [topo.broadcast_queue(event_id)]))


def followed(url: str, event_id: str) -> results.Reader:
    """The shared reader of a broadcast whose outcomes are kept (check :func:`exists` first)."""
    return readers.use(event_id, lambda: results.Reader(url, event_id, gather=GATHER))


def recent(url: str) -> results.Recent | None:
    """The index of the recent broadcasts; None while none was ever queued (no ``omero.mail.broadcasts``)."""
    from events import topology as topo
    from events.broker import existing_queues

    if index.peek("index") is None and not existing_queues(url, [topo.BROADCASTS_QUEUE]):
        return None
    return index.use("index", lambda: results.Recent(url))


def warm_index(url: str) -> None:
    """Read the index in the background (from the Email page), so the broadcasts page finds it read."""
    if index.peek("index") is None:
        threading.Thread(target=_read_index, args=(url,), name="omero-mail-web-index", daemon=True).start()


def _read_index(url: str) -> None:
    try:
        recent(url)
    except (Unreadable, BrokerError) as exc:
        log.warning("the broadcasts index not read in the background: %s", exc)


def read(url: str, event_id: str) -> results.Tally | None:
    """A broadcast's tally: from its reader if a page follows it, else read whole (kept a few
    seconds); None when its outcomes are not kept."""
    reader = readers.peek(event_id)
    if reader is not None:
        return reader.snapshot()
    now = time.monotonic()
    with _read_lock:
        kept = _read.get(event_id)
    if kept is not None and now - kept[0] < (SETTLED_FOR if kept[1].finished else GOING_FOR):
        return kept[1]
    if not exists(url, event_id):
        return None
    tally = results.read_all(url, event_id)
    with _read_lock:
        _read[event_id] = (now, tally)
        for old in [key for key, (at, _) in _read.items() if now - at > SETTLED_FOR]:
            del _read[old]
    return tally
