"""``omero-mail bridge``: the loop that publishes a running OMERO's events to RabbitMQ.

Each cycle, the active bridge reads what OMERO wrote since the last one (``eventlog``
rows, Blitz-0.log lines), turns it into events, publishes them with confirms, and only
then writes its new place to the state file. Nothing is skipped on an outage:

- the broker down: the same events are published again, every few seconds, until
  RabbitMQ confirms them; the place does not move meanwhile;
- the database down: the bridge has lost its lead with its connection; it reconnects,
  wins the lead again (or stands by, if another bridge won it), and starts again from the
  state file.

SIGTERM and SIGINT finish the cycle under way, then stop: exit 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
from tenacity import Retrying, retry_if_exception, wait_exponential_jitter

from .. import topology as topo
from ..broker import BrokerError, Message, Publisher
from ..monitoring import MonitoringServer, application
from ..omerodb import connect, describe, reason
from ..schemas import Event
from . import leader, omerolog
from .cursor import EventlogCursor
from .errors import BridgeError
from .eventlog import EventlogReader, prepare
from .follow import LogFollower
from .mapping import map_poll
from .metrics import BridgeMetrics
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

    # -- the loop ------------------------------------------------------------------
    def run(self, once: bool = False) -> None:
        """Until stopped (or, with ``once``, until one cycle has published and recorded)."""
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
                if retrying(self._step) and once:
                    return
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def _wait(self, seconds: float) -> None:
        """Between attempts after an outage; a stop ends the wait."""
        self._stop.wait(seconds)

    def _step(self) -> bool:
        """One cycle, or one try for the lead; True once a cycle has published and recorded."""
        try:
            return self._step_once()
        except NOT_OUTAGES as exc:
            raise BridgeError(f"OMERO's database ({describe(self.settings.dsn)}) refused the bridge: "
                              f"{reason(exc, self.settings.dsn)} (is it OMERO's, and does the role have README's "
                              "grants?)") from None

    def _step_once(self) -> bool:
        if not self._lead():
            self._stop.wait(STANDBY_SECONDS)
            return False
        busy = self._cycle()
        if self._failing:
            log.info("OMERO's database and RabbitMQ answer again: publishing")
            self._failing = False
        if not busy:
            self._idle(self.settings.poll_seconds)
        return True

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
    def _lead(self) -> bool:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.dsn, application_name=f"omero-mail bridge@{self.settings.source}")
            prepare(self._conn)
        if self._state is not None:
            return True
        if not leader.try_lead(self._conn):
            if self.metrics.last_cycle_at is None or self.metrics.is_active:
                log.info("standing by: %s is the active bridge", leader.holder(self._conn))
            self.metrics.set_active(False)
            self.metrics.cycle_done()
            return False
        self._start_leading()
        return True

    def _start_leading(self) -> None:
        assert self._conn is not None
        self._database = self.reader.database_id(self._conn)
        state = read_state(self.settings.state_path)
        if state is not None and state.database != self._database:
            raise_state_mismatch(self.settings.state_path, state.database, self._database)
        state = state or BridgeState(self._database)
        if self.from_id is not None:
            state.eventlog = EventlogCursor(high=self.from_id - 1)
            self.from_id = None
        if state.eventlog is None:
            state.eventlog = EventlogCursor(high=self.reader.end(self._conn))
        if self.settings.log_path is not None:
            self._follower = LogFollower(self.settings.log_path, state.log)
            state.log = self._follower.position
        write_state(self.settings.state_path, state)
        self._state = state
        self.metrics.set_active(True)
        log.info("active: publishing OMERO's events from eventlog id %d%s", state.eventlog.high + 1,
                 f" and {self.settings.log_path}" if self._follower else " (no log followed)")

    def _lose_lead(self) -> None:
        """After a database failure: the lock went with the connection; start again from the file."""
        if self._conn is not None:
            self._conn.close()
        self._conn, self._state, self._pending = None, None, None
        if self._follower:
            self._follower.close()
        self._follower = None
        self.metrics.set_active(False)

    # -- one cycle -----------------------------------------------------------------
    def _cycle(self) -> bool:
        """Read, publish, record. True when there may be more to read at once."""
        assert self._state is not None and self._conn is not None
        busy = False
        if self._pending is None:
            self._pending, busy = self._read()
        pending = self._pending
        self.publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id) for e in pending.events])
        for event in pending.events:
            self.metrics.published.labels(event.type).inc()
        if pending.cursor is not None:
            self._state.eventlog = pending.cursor
        if pending.follower_moved and self._follower is not None:
            self._state.log = self._follower.position
        if pending.events or pending.follower_moved or pending.cursor is not None:
            write_state(self.settings.state_path, self._state)
        self._pending = None
        self.metrics.cycle_done()
        return busy

    def _read(self) -> tuple[_Cycle, bool]:
        assert self._state is not None and self._state.eventlog is not None and self._conn is not None
        cycle = _Cycle()
        cursor = EventlogCursor.from_dict(self._state.eventlog.to_dict())
        poll = self.reader.poll(self._conn, cursor)
        mapped = map_poll(poll, self._database, self.settings.source, self.settings.rows)
        for skipped in mapped.skipped:
            self.metrics.skipped.labels(skipped.reason).inc()
            if skipped.detail:
                log.warning("eventlog row %d skipped: %s", skipped.row_id, skipped.detail)
        cycle.events.extend(mapped.events)
        final = cursor.advance((row.id for row in poll.rows), poll.snapshot, poll.gaps_read_whole)
        self.metrics.rows.inc(len(poll.rows))
        self.metrics.gaps.set(len(cursor.gaps))
        self.metrics.gaps_final.inc(len(final))
        if poll.rows or final:
            cycle.cursor = cursor
        behind = max(0, poll.end - cursor.high)
        self.metrics.set_lag(behind, _age(poll.rows[-1].time) if behind and poll.rows else 0.0)
        if self._follower is not None:
            lines = self._follower.read_lines()
            self.metrics.log_lines.inc(len(lines))
            cycle.events.extend(omerolog.events(lines, self._database, self.settings.source))
            cycle.follower_moved = bool(lines)
        return cycle, len(poll.rows) >= self.reader.batch

    def close(self) -> None:
        self.publisher.close()
        if self._follower:
            self._follower.close()
        if self._conn is not None:
            self._conn.close()


def _age(moment: datetime | None) -> float:
    if moment is None:
        return 0.0
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


#: Database errors that waiting does not mend: the role lacks a grant, or this is not OMERO.
NOT_OUTAGES = (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn)


def is_outage(exc: BaseException) -> bool:
    """Worth waiting out and trying again: RabbitMQ or the database failing for now."""
    return isinstance(exc, BrokerError) or (isinstance(exc, psycopg.Error) and not isinstance(exc, NOT_OUTAGES))


def raise_state_mismatch(path, saved: str, current: str) -> None:
    raise StateError(f"the bridge state {path} belongs to OMERO database {saved}, but omero.db.* points at "
                     f"database {current}; move the file away (the bridge then starts at the current end of "
                     "eventlog) or point the bridge at the right database")


def run(settings: BridgeSettings, from_id: int | None = None, once: bool = False) -> int:
    """The ``omero-mail bridge`` process: metrics and health served, signals stop it."""
    bridge = Bridge(settings, from_id=from_id)
    monitoring = None
    if settings.metrics_port is not None:
        app = application(bridge.metrics.registry, lambda: bridge.metrics.health(settings.stuck_after))
        monitoring = MonitoringServer(settings.metrics_host, settings.metrics_port, app,
                                      key="omero.mail.bridge.metrics.port").start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", settings.metrics_host, monitoring.port)

    def on_signal(signum, _frame):
        log.info("received %s: finishing the cycle under way, then stopping", signal.Signals(signum).name)
        bridge.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bridge.run(once=once)
    finally:
        if monitoring:
            monitoring.close()
    return 0
