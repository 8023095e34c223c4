"""The rules stage's memory, kept in RabbitMQ: which events it planned, and its flood windows.

Only one rules stage is active at a time (single active consumer on ``omero.mail.events``),
but any of them may become the active one, and a crash must not lose what it knew. So the
active stage appends a record to the stream ``omero.mail.rules.state`` for every event it
handled (its id, and what it did to a flood window) and for every digest it sent, and
every stage rebuilds its memory from that stream:

- an event's record is appended once its outbox messages are confirmed, and the event is
  acked once the record is: a crash in between plans it again (the same Message-IDs), and
  a record is never there for mail that is not in the outbox;
- on its first event under a new consumer tag (after starting, after each reconnection:
  that is when a standby becomes the active one) a stage catches up: it appends a marker
  and reads the stream from where it stopped (at start: from the longest window ago) up to
  that marker, applying what the other stages recorded. Its own records it already knows,
  but for its flood windows: after a reconnection they are rebuilt, set back to what they
  were after the last catch-up and then every record since applied, its own too. So what
  it counted of events whose records never reached the stream (their connection was lost,
  and the stage active meanwhile took them again) is not counted twice.

An event is known by its id and the broker user that published it, so one publisher cannot
pre-empt another's event by sending its id first. A second copy of an event that arrives
while the first is being planned waits for it, and is then acked as a duplicate (or given
back, if the first was not planned after all, or was not settled within the stated wait).
The stream keeps records for the longest window (RabbitMQ trims it by age); a record is
about 150 bytes, one per event.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from events import topology as topo
from events.broker import Message, catch_up
from senders.flood import FloodGuard, Window

from .dedupe import DuplicateFilter

log = logging.getLogger(__name__)

#: What :meth:`RulesState.claim` says of a copy that must wait for the one being planned.
WAITING = "waiting"

def event_key(event_id: str, user: str | None) -> str:
    """What an event is known by: its id and the broker user that published it.

    One string, ``<id>/<user>`` (an event id is a UUID, so the ``/`` is unambiguous): a
    tuple cost twice the memory at the duplicate filter's 100,000 ids. A record written
    before keys named the publisher is known by its bare id (:func:`record_key`), which
    :meth:`RulesState.claim` still honours for any publisher while such records last.
    """
    return f"{event_id}/{user or ''}"


def record_key(record: dict) -> str:
    return event_key(str(record["id"]), str(record["u"])) if "u" in record else str(record["id"])


class Waiter:
    """A copy waiting for the one being planned: told once, by the first of that one's settling
    and its timer."""

    __slots__ = ("then", "_once", "_timer")

    def __init__(self, then: Callable[[bool | None], None]):
        self.then = then
        self._once = threading.Lock()
        self._timer: threading.Timer | None = None

    def start(self, wait: float, gave_up: Callable[[], None]) -> None:
        self._timer = threading.Timer(wait, gave_up)
        self._timer.daemon = True
        self._timer.start()

    def tell(self, planned: bool | None) -> None:
        if self._once.acquire(blocking=False):
            if self._timer is not None:
                self._timer.cancel()
            self.then(planned)


class RulesState:
    def __init__(self, url: str, dedupe: DuplicateFilter, guard: FloodGuard | None, horizon: float, *,
                 read: Callable = catch_up, clock: Callable[[], float] = time.time):
        self.url = url
        self.dedupe = dedupe
        self.guard = guard
        #: How far back the first catch-up reads: the longest window.
        self.horizon = horizon
        self.read = read
        self.clock = clock
        #: Tells this process's records from those of other stages (and of its own earlier runs).
        self.writer = uuid.uuid4().hex
        #: Numbers the records' message ids after the writer: unique without a uuid4 (and its
        #: read of the system's random source) per record, which cost 2% of the rules stage's CPU.
        self._sequence = itertools.count(1)
        #: Where the next catch-up starts; None until the first one.
        self.offset: int | None = None
        self._lock = threading.Lock()
        #: Events being planned now -> the copies waiting for them.
        self._claims: dict[str, list[Waiter]] = {}

    # -- catching up with the other stages ------------------------------------------------
    def catch_up(self) -> int:
        """Apply what other stages recorded since the last call; how many records that was.
        From the second call on, the flood windows are rebuilt (this module's docstring)."""
        start = self.offset if self.offset is not None else datetime.fromtimestamp(
            self.clock() - self.horizon, timezone.utc)
        rebuild = False
        if self.offset is not None and self.guard is not None:
            self.guard.rewind()
            rebuild = True
        applied = 0

        def on_record(_offset: int, body: bytes) -> None:
            nonlocal applied
            try:
                record = json.loads(body)
            except ValueError:
                log.warning("skipping an unreadable record in %s", topo.STATE_STREAM)
                return
            mine = record.get("w") == self.writer
            if rebuild or not mine:
                self.apply(record, mine)
            if not mine:
                applied += 1

        self.offset = self.read(self.url, topo.STATE_STREAM, start, on_record)
        if self.guard is not None:
            self.guard.mark()
        return applied

    def apply(self, record: dict, mine: bool = False) -> None:
        if "id" in record:
            with self._lock:
                self.dedupe.add(record_key(record), float(record.get("t", 0)))
        if self.guard is None:
            return
        if "f" in record:
            self.guard.restore(record["f"], own=mine)
        if "digest" in record:
            digest = record["digest"]
            self.guard.forget(str(digest["type"]), tuple(str(k) for k in digest["key"]), float(digest["opened"]))

    # -- planning an event once -------------------------------------------------------------
    def claim(self, key: str, then: Callable[[bool | None], None], wait: float) -> float | str | None:
        """None: plan the event. A time: it was planned then. :data:`WAITING`: another copy is
        being planned now, and ``then(planned)`` will be called once: when that one is settled,
        or with None after ``wait`` seconds if it is not settled by then.

        ``key`` is :func:`event_key`'s: a publisher cannot pre-empt another's event by
        publishing its id first (the bridge's ids can be predicted).
        """
        with self._lock:
            at = self.dedupe.planned_at(key)
            if at is None:
                at = self.dedupe.planned_at(key.rpartition("/")[0])  # a record of before keys named publishers
            if at is not None:
                return at
            if key not in self._claims:
                self._claims[key] = []
                return None
            waiter = Waiter(then)
            self._claims[key].append(waiter)
        waiter.start(wait, lambda: self._gave_up(key, waiter))
        return WAITING

    def settled(self, key: str, planned: bool) -> None:
        """The claimed event was planned (its record confirmed), or given back."""
        with self._lock:
            if planned:
                self.dedupe.add(key)
            waiting = self._claims.pop(key, [])
        for waiter in waiting:
            try:
                waiter.tell(planned)
            except Exception:  # noqa: BLE001 - one copy's failure must not strand the others
                log.exception("settling a second copy of event %s failed", key)

    def _gave_up(self, key: str, waiter: "Waiter") -> None:
        """A copy waited its bound: it leaves the claim's list (it goes back to the queue)."""
        with self._lock:
            waiting = self._claims.get(key)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
        waiter.tell(None)

    # -- the records --------------------------------------------------------------------------
    def event_record(self, event_id: str, user: str | None, flood_change: dict | None) -> Message:
        record = {"w": self.writer, "t": self.clock(), "u": user or "", "id": event_id}
        if flood_change is not None:
            record["f"] = flood_change
        return self._message(record)

    def digest_record(self, window: Window) -> Message:
        return self._message({"w": self.writer, "t": self.clock(),
                              "digest": {"type": window.event_type, "key": list(window.key), "opened": window.opened}})

    def _message(self, record: dict) -> Message:
        return Message("", topo.STATE_STREAM, json.dumps(record, separators=(",", ":")).encode(),
                       f"{self.writer}-{next(self._sequence)}")
