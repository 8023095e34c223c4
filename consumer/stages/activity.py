"""Each consumer process's report of what it did, once a minute, to ``omero.mail.activity``.

The web app's Health page needs what RabbitMQ cannot tell over AMQP (3.10, no management
plugin): which of the rules stages on ``omero.mail.events`` is the active one (a classic
queue's consumer count includes those standing by), how many mails were sent and failed
each minute, and how late the bridge's events reach the rules stage. So each process
says it, in one small message per ``omero.mail.activity.interval`` (one minute by
default; 0 turns the reports off): its stages, whether each has received a message since
it connected (the active rules stage has), what it sent, failed, retried and parked in
that interval, and, for the rules stage, the bridge's events it took with their
``occurred_at``. The queue is bounded by length and age (``events/topology.py``), so the
reports are kept in RabbitMQ for the page's chart across the web app's restarts, and
cost nothing while nobody looks. A process that stops says so in a last report.

The reports go out from a thread of their own on a connection of their own
(:class:`events.broker.Publisher`), never on the stages' channels: RabbitMQ closes the
channel of a publish it refuses, which would cut the stages' consuming. A report that
cannot be published is dropped, said once at WARNING until one goes again: the stages
never wait for a report, and never fail because of one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

from events import topology as topo
from events.broker import Message, Publisher
from events.schemas import Event
from senders.mail import Mail
from senders.plan import Plan

from .. import outcomes

log = logging.getLogger(__name__)

#: The bridge's events carry ``source`` ``omero-bridge@<host>`` (events/bridge/settings.py).
BRIDGE_SOURCE = "omero-bridge@"
#: Seconds a report may wait for RabbitMQ's confirm; a longer wait drops it.
PUBLISH_TIMEOUT = 5.0
#: Seconds between two looks at whether the process is stopping, while waiting for the next report.
STOP_CHECK = 0.5
#: The email outcomes a report counts.
COUNTED = (outcomes.SENT, outcomes.FAILED, outcomes.RETRYING)


@dataclass(frozen=True)
class BridgeSeen:
    """The bridge's events the rules stage took in an interval: how many, and how late."""

    events: int
    #: When the newest of them occurred in OMERO (epoch seconds), and its lag when it was taken.
    last_occurred_at: float
    last_lag: float
    max_lag: float


@dataclass(frozen=True)
class Report:
    """One process's interval: what it is, and what it did from ``since`` to ``at`` (epoch seconds)."""

    process: str
    host: str
    pid: int
    stages: tuple[str, ...]
    since: float
    at: float
    interval: float
    connected: bool
    #: The queues that gave this process a message since it (re)connected.
    receiving: tuple[str, ...] = ()
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    events: int = 0
    invalid: int = 0
    bridge: BridgeSeen | None = None
    #: The last report of a process that stopped.
    stopping: bool = False

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, body: bytes) -> "Report | None":
        """The report in ``body`` (fields it does not know are left out: a newer version's);
        None for anything else: the page skips what it cannot read."""
        try:
            given = json.loads(body)
            fields = {name: given[name] for name in cls.__dataclass_fields__ if name in given}
            bridge = fields.pop("bridge", None)
            fields.update(stages=tuple(fields["stages"]), receiving=tuple(fields.get("receiving", ())),
                          bridge=BridgeSeen(**bridge) if bridge else None)
            report = cls(**fields)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        numbers = (report.since, report.at, report.interval, report.sent, report.failed, report.retrying,
                   report.events, report.invalid)
        return report if all(isinstance(n, (int, float)) for n in numbers) else None


@dataclass
class _Counts:
    """What happened since the last report; swapped out whole at each report."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    events: int = 0
    invalid: int = 0
    bridge_events: int = 0
    #: The newest bridge event's (occurred_at, lag), and the longest lag.
    bridge_newest: tuple[float, float] | None = None
    bridge_max_lag: float = 0.0

    def took_from_bridge(self, occurred_at: float, lag: float) -> None:
        self.bridge_events += 1
        self.bridge_newest = max(self.bridge_newest or (occurred_at, lag), (occurred_at, lag))
        self.bridge_max_lag = max(self.bridge_max_lag, lag)

    def bridge(self) -> BridgeSeen | None:
        if self.bridge_newest is None:
            return None
        occurred_at, lag = self.bridge_newest
        return BridgeSeen(self.bridge_events, occurred_at, round(lag, 3), round(self.bridge_max_lag, 3))


class Activity:
    """Counts what the stages of this process do, and reports it every ``interval`` seconds.

    The stages' observers call :meth:`on_outcome`, :meth:`on_event` and :meth:`on_taken` on
    their own threads; ``status`` says whether the consumer is connected and which of its
    queues have given it a message since.
    """

    def __init__(self, url: str, stages: Iterable[str], interval: float,
                 status: Callable[[], tuple[bool, Iterable[str]]], *, clock: Callable[[], float] = time.time):
        self.url = url
        self.stages = tuple(stages)
        self.interval = interval
        self.status = status
        self.clock = clock
        self.process = uuid.uuid4().hex[:12]
        self.host = socket.gethostname()
        self._lock = threading.Lock()
        self._counts = _Counts()
        self._since = clock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        #: Whether the last report failed: a failure is said once, until one goes again.
        self._failing = False

    # -- the stages' observers ----------------------------------------------------------
    def on_outcome(self, outcome: str, _mail: Mail | None, _detail: str) -> None:
        if outcome in COUNTED:
            with self._lock:
                setattr(self._counts, outcome, getattr(self._counts, outcome) + 1)

    def on_event(self, kind: str, _plan: Plan | None) -> None:
        with self._lock:
            if kind == outcomes.INVALID:
                self._counts.invalid += 1
            else:
                self._counts.events += 1

    def on_taken(self, event: Event) -> None:
        """An event the rules stage took: the bridge's tell how late they come."""
        if event.source.startswith(BRIDGE_SOURCE):
            occurred_at = event.occurred_at.timestamp()
            lag = max(0.0, self.clock() - occurred_at)
            with self._lock:
                self._counts.took_from_bridge(occurred_at, lag)

    # -- reporting -------------------------------------------------------------------------
    def report(self, stopping: bool = False) -> Report:
        """What happened since the last report, which this one ends."""
        now = self.clock()
        connected, receiving = self.status()
        with self._lock:
            counts, self._counts = self._counts, _Counts()
            since, self._since = self._since, now
        return Report(self.process, self.host, os.getpid(), self.stages, since, now, self.interval, connected,
                      tuple(sorted(receiving)), counts.sent, counts.failed, counts.retrying, counts.events,
                      counts.invalid, counts.bridge(), stopping)

    def next_due(self) -> float:
        """When the next report is due: the next multiple of the interval, so a one-minute
        report covers one minute of the clock."""
        return (math.floor(self.clock() / self.interval) + 1) * self.interval

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="activity", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop reporting, after a last report that says so (waited for at most a few seconds)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(PUBLISH_TIMEOUT + 2 * STOP_CHECK)

    def _run(self) -> None:
        publisher = Publisher(self.url, timeout=PUBLISH_TIMEOUT, attempts=1, name="omero-mail activity")
        try:
            due = self.next_due()
            while not self._stopping.is_set():
                left = due - self.clock()
                if left > 0:
                    # Publisher.sleep answers the connection's heartbeats meanwhile.
                    publisher.sleep(min(left, STOP_CHECK))
                    continue
                self._publish(publisher)
                due = self.next_due()
            self._publish(publisher, stopping=True)
        finally:
            publisher.close()

    def _publish(self, publisher: Publisher, stopping: bool = False) -> None:
        try:
            publisher.publish(Message(topo.MAIL_EXCHANGE, topo.ACTIVITY_KEY, self.report(stopping).to_json(),
                                      uuid.uuid4().hex))
        except Exception as exc:  # noqa: BLE001 - a report is dropped, whatever failed; the stages go on
            if not self._failing:
                log.warning("activity report not published to %s (%s): the web app's Health page misses this "
                            "process until one is; the stages carry on", topo.ACTIVITY_QUEUE, exc)
            self._failing = True
            return
        if self._failing:
            log.info("activity reports published to %s again", topo.ACTIVITY_QUEUE)
        self._failing = False
