"""``omero-mail bridge``: the loop that publishes a running OMERO's events to RabbitMQ.

Each cycle, the active bridge reads what OMERO wrote since the last one (``eventlog``
rows, Blitz-0.log lines), turns it into events, publishes them with confirms, and only
then writes its new place to the state file. Nothing is skipped on an outage:

- the broker down: the same events are published again, every few seconds, until
  RabbitMQ confirms them; the place does not move meanwhile. Before each attempt the
  bridge checks that it still leads (``leader.py``): one whose database session ended
  meanwhile publishes nothing more and writes no state, and lets the next leader in;
- the database down: the bridge has lost its lead with its connection; it reconnects,
  wins the lead again (or stands by, if another bridge won it), and starts again from the
  state file.

A connection PostgreSQL refuses for good (no such role or database, a wrong password) and
an eventlog that went back (``restore.py``) stop it with one line, exit 1. With
``once``, it publishes everything there is, then returns; :attr:`Bridge.totals` says what.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
from tenacity import Retrying, retry_if_exception, wait_exponential_jitter

from .. import topology as topo
from ..broker import BrokerError, Message, Publisher
from ..omerodb import connect, describe, reason
from ..schemas import Event
from . import leader, omerolog
from .cursor import MAX_GAPS, EventlogCursor
from .errors import BridgeError, refusal
from .eventlog import EventlogReader, prepare
from .follow import LogFollower
from .mapping import map_poll
from .metrics import BridgeMetrics
from .restore import WentBack, went_back
from .restore import refusal as went_back_refusal
from .settings import BridgeSettings
from .state import BridgeState, StateError, read_state, write_state

log = logging.getLogger("omero_mail.bridge")

#: How often a standby asks for the lead.
STANDBY_SECONDS = 1.0
#: How long a stop may wait while the bridge idles between polls.
IDLE_SLICE_SECONDS = 0.2
#: Waits between attempts after an outage: exponential with jitter, at most this long.
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class _Cycle:
    """What one cycle read: its events, and the place to record once they are confirmed."""

    events: list[Event] = field(default_factory=list)
    cursor: EventlogCursor | None = None
    follower_moved: bool = False
    row_ids: list[int] = field(default_factory=list)
    lines: int = 0


@dataclass
class Totals:
    """What this run published and recorded: ``--once``'s line."""

    events: int = 0
    rows: int = 0
    lines: int = 0
    first_row: int | None = None
    last_row: int | None = None

    def add(self, cycle: _Cycle) -> None:
        self.events += len(cycle.events)
        self.rows += len(cycle.row_ids)
        self.lines += cycle.lines
        if cycle.row_ids:
            self.first_row = min(cycle.row_ids[0], self.first_row or cycle.row_ids[0])
            self.last_row = max(cycle.row_ids[-1], self.last_row or 0)

    def line(self, cursor: EventlogCursor | None) -> str:
        ids = f" (ids {self.first_row}..{self.last_row})" if self.rows else ""
        text = f"published {self.events} event(s) from {self.rows} eventlog row(s){ids} and {self.lines} log line(s)"
        if cursor is not None:
            text += f"; eventlog read up to id {cursor.high}"
            if cursor.gaps:
                text += f", {len(cursor.gaps)} id range(s) below it wait for transactions still running"
        return text


class Bridge:
    def __init__(self, settings: BridgeSettings, metrics: BridgeMetrics | None = None,
                 from_id: int | None = None):
        self.settings = settings
        self.metrics = metrics or BridgeMetrics()
        self.from_id = from_id
        self.reader = EventlogReader(settings.batch, on_query=self.metrics.queries.inc)
        self.publisher = Publisher(settings.broker_url, name="omero-mail bridge")
        self._stop = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._state: BridgeState | None = None
        self._follower: LogFollower | None = None
        self._pending: _Cycle | None = None
        self._failing = False
        self._database = ""
        self._once = False
        self._state_lock = leader.StateLock(settings.state_path)
        #: The standby line last logged: said once, not every second.
        self._standing_by: str | None = None
        self._over_limit = False
        self.totals = Totals()

    @property
    def cursor(self) -> EventlogCursor | None:
        return self._state.eventlog if self._state else None

    # -- the loop ------------------------------------------------------------------
    def run(self, once: bool = False) -> None:
        """Until stopped (or, with ``once``, until a poll finds nothing new: everything there has been
        published and recorded, and the gaps the last rows opened were checked once more)."""
        self._once = once
        retrying = Retrying(
            retry=retry_if_exception(is_outage),
            wait=wait_exponential_jitter(initial=1, max=MAX_BACKOFF_SECONDS),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._wait,
            before_sleep=self._on_outage,
            retry_error_callback=lambda _state: False,  # stopped during an outage
        )
        try:
            while not self._stop.is_set():
                if retrying(self._step) == CAUGHT_UP and once:
                    return
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def _wait(self, seconds: float) -> None:
        """Between attempts after an outage; a stop ends the wait."""
        self._stop.wait(seconds)

    def _step(self) -> str:
        """One cycle, or one try for the lead: STANDBY, BUSY (more to read at once), CAUGHT_UP, or
        READ (caught up, after reading rows: a new gap may be final at the next poll)."""
        try:
            return self._step_once()
        except NOT_OUTAGES as exc:
            raise BridgeError(f"OMERO's database ({describe(self.settings.dsn)}) refused the bridge: "
                              f"{reason(exc, self.settings.dsn)} (is it OMERO's, and does the role have README's "
                              "grants?)") from None

    def _step_once(self) -> str:
        if not self._lead():
            if self._once:
                raise BridgeError(f"--once publishes nothing while {self._standing_by}: stop it first")
            self._stop.wait(STANDBY_SECONDS)
            return STANDBY
        rows_before = self.totals.rows
        busy = self._cycle()
        if self._state is None:
            return STANDBY  # the lead was lost during the cycle
        if self._failing:
            log.info("OMERO's database and RabbitMQ answer again: publishing")
            self._failing = False
        if not busy and not self._once:
            self._idle(self.settings.poll_seconds)
        if busy:
            return BUSY
        return READ if self.totals.rows > rows_before else CAUGHT_UP

    def _idle(self, seconds: float) -> None:
        """Wait for the next poll with the broker connection's heartbeats answered; a stop ends it."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self.publisher.sleep(min(IDLE_SLICE_SECONDS, left))

    def _on_outage(self, retry_state) -> None:
        exc = retry_state.outcome.exception()
        if isinstance(exc, psycopg.Error):
            what = "database"
            message = f"OMERO's database ({describe(self.settings.dsn)}) failed: {reason(exc, self.settings.dsn)}"
            if self._state is not None:
                log.warning("%s: this bridge lost OMERO's lock with its session; it publishes and records nothing "
                            "more until it wins the lock again", message)
            self._lose_lead()
        else:
            what = "broker"
            count = len(self._pending.events) if self._pending else 0
            message = f"RabbitMQ did not confirm {count} event(s), which will be published again: {exc}"
        self.metrics.errors.labels(what).inc()
        self._failing = True
        attempt = retry_state.attempt_number
        # The first failure, then one line in ten: an outage is visible without flooding the log.
        (log.warning if attempt % 10 == 1 else log.debug)(
            "%s; attempt %d, next in %.0fs", message, attempt, retry_state.next_action.sleep)

    # -- leading -------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        dsn = self.settings.dsn
        try:
            conn = connect(dsn, application_name=f"omero-mail bridge@{self.settings.source}")
        except psycopg.OperationalError as exc:
            refused = refusal(reason(exc, dsn))
            if refused is None:
                raise
            raise BridgeError(f"OMERO's database ({describe(dsn)}) refused the bridge: {refused} "
                              "(check omero.mail.bridge.dsn, or OMERO's omero.db.*)") from None
        prepare(conn)
        return conn

    def _lead(self) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        if self._state is not None:
            return True
        if not leader.try_lead(self._conn):
            return self._stand_by(f"{leader.holder(self._conn)} is the active bridge")
        if not self._state_lock.acquire():
            # OMERO's lock is ours, but the bridge that led before has not noticed it lost it yet.
            return self._stand_by(f"{self._state_lock.holder()} has not let go of {self._state_lock.path} yet")
        self._start_leading()
        self._standing_by = None
        return True

    def _stand_by(self, why: str) -> bool:
        if why != self._standing_by:
            log.info("standing by: %s", why)
            self._standing_by = why
        self.metrics.set_active(False)
        self.metrics.cycle_done()
        return False

    def _start_leading(self) -> None:
        assert self._conn is not None
        self._database = self.reader.database_id(self._conn)
        state = read_state(self.settings.state_path)
        if state is not None and state.database != self._database:
            raise_state_mismatch(self.settings.state_path, state.database, self._database)
        state = state or BridgeState(self._database)
        if state.eventlog is not None and state.eventlog.high > 0:
            now = self.reader.anchor_at(self._conn, state.eventlog.high)
            end = self.reader.end(self._conn) if state.eventlog.anchor is None else 0
            if went_back(state.eventlog, now, end):
                if self.from_id is None:
                    raise self._went_back(state.eventlog, now)
                log.warning("OMERO's eventlog went back below the bridge's place (a restored dump?): publishing "
                            "from eventlog id %d as told; rows that reuse an id have event ids of their own",
                            self.from_id)
        if self.from_id is not None:
            state.eventlog = EventlogCursor(high=self.from_id - 1)
            self.from_id = None
        if state.eventlog is None:
            state.eventlog = EventlogCursor(high=self.reader.end(self._conn))
        if self.settings.log_path is not None:
            self._follower = LogFollower(self.settings.log_path, state.log, on_loss=self.metrics.log_losses.inc)
            state.log = self._follower.position
        write_state(self.settings.state_path, state)
        self._state = state
        self.metrics.set_active(True)
        log.info("active: publishing OMERO's events from eventlog id %d%s", state.eventlog.high + 1,
                 f" and {self.settings.log_path}" if self._follower else " (no log followed)")

    def _went_back(self, cursor: EventlogCursor, now) -> WentBack:
        assert self._conn is not None
        resume_at = self.reader.first_written_after(self._conn, cursor.anchor.time) if cursor.anchor else None
        return went_back_refusal(cursor, now, resume_at)

    def _still_leading(self) -> bool:
        """Before publishing or recording: this session still holds OMERO's lock (a session that
        is gone raises, an outage that ends the lead); otherwise let go at once."""
        assert self._conn is not None
        if leader.holds(self._conn):
            return True
        log.warning("this bridge no longer holds OMERO's lock: publishing nothing more, standing by")
        self._lose_lead()
        return False

    def _lose_lead(self) -> None:
        """The lock went with the connection: publish and record nothing more; start again from the file."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._state, self._pending, self._follower = None, None, None, None
        self._state_lock.release()
        self.metrics.set_active(False)

    # -- one cycle -----------------------------------------------------------------
    def _cycle(self) -> bool:
        """Read, publish, record. True when there may be more to read at once."""
        assert self._state is not None and self._conn is not None
        busy = False
        if self._pending is None:
            self._pending, busy = self._read()
        pending = self._pending
        if pending.events or pending.follower_moved or pending.cursor is not None:
            if not self._still_leading():
                return False
            if pending.events:
                self.publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id)
                                             for e in pending.events])
            for event in pending.events:
                self.metrics.published.labels(event.type).inc()
            if pending.cursor is not None:
                self._state.eventlog = pending.cursor
            if pending.follower_moved and self._follower is not None:
                self._state.log = self._follower.position
            write_state(self.settings.state_path, self._state)
            self.totals.add(pending)
        self._pending = None
        self.metrics.cycle_done()
        return busy

    def _read(self) -> tuple[_Cycle, bool]:
        assert self._state is not None and self._state.eventlog is not None and self._conn is not None
        cycle = _Cycle()
        cursor = EventlogCursor.from_dict(self._state.eventlog.to_dict())
        poll = self.reader.poll(self._conn, cursor)
        if cursor.anchor is not None and poll.anchor != cursor.anchor:
            raise self._went_back(cursor, poll.anchor)
        mapped = map_poll(poll, self._database, self.settings.source, self.settings.rows)
        for skipped in mapped.skipped:
            self.metrics.skipped.labels(skipped.reason).inc()
            if skipped.detail:
                log.warning("eventlog row %d skipped: %s", skipped.row_id, skipped.detail)
        cycle.events.extend(mapped.events)
        anchor = cursor.anchor
        final = poll.advance(cursor)
        self.metrics.rows.inc(len(poll.rows))
        self._count_gaps(cursor, final)
        if poll.rows or final or cursor.anchor != anchor:
            cycle.cursor = cursor
        cycle.row_ids = [row.id for row in poll.rows]
        behind = max(0, poll.end - cursor.high)
        self.metrics.set_lag(behind, _age(poll.rows[-1].time) if behind and poll.rows else 0.0)
        log_busy = False
        if self._follower is not None:
            place = self._follower.position
            lines = self._follower.read_lines()
            self.metrics.log_lines.inc(len(lines))
            cycle.events.extend(omerolog.events(lines, self._database, self.settings.source))
            cycle.follower_moved, cycle.lines = self._follower.position != place, len(lines)
            log_busy = not self._follower.caught_up
        return cycle, len(poll.rows) >= self.reader.batch or log_busy

    def _count_gaps(self, cursor: EventlogCursor, final: list) -> None:
        self.metrics.gaps.set(len(cursor.gaps))
        self.metrics.gaps_final.inc(len(final))
        if cursor.over_limit and not self._over_limit:
            log.warning("%d open gaps in eventlog (ids not seen yet below the newest read), past the limit of %d: "
                        "none is given up before every transaction that could fill it has ended, so each poll "
                        "reads them all; a long transaction is holding them open", len(cursor.gaps), MAX_GAPS)
            self.metrics.gaps_over_limit.inc()
        self._over_limit = cursor.over_limit

    def close(self) -> None:
        self.publisher.close()
        if self._conn is not None:
            self._conn.close()
        self._state_lock.release()


def _age(moment: datetime | None) -> float:
    if moment is None:
        return 0.0
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


#: What one step of the loop ended in.
STANDBY, BUSY, READ, CAUGHT_UP = "standby", "busy", "read", "caught up"

#: Database errors that waiting does not mend: the role lacks a grant, or this is not OMERO.
NOT_OUTAGES = (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)


def is_outage(exc: BaseException) -> bool:
    """Worth waiting out and trying again: RabbitMQ or the database failing for now."""
    return isinstance(exc, BrokerError) or (isinstance(exc, psycopg.Error) and not isinstance(exc, NOT_OUTAGES))


def raise_state_mismatch(path, saved: str, current: str) -> None:
    raise StateError(f"the bridge state {path} belongs to OMERO database {saved}, but omero.db.* points at "
                     f"database {current}; move the file away (the bridge then starts at the current end of "
                     "eventlog) or point the bridge at the right database")
