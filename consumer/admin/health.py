"""The whole mail system's health, as the web app's Health page shows it to an admin.

(One consumer process's own ``/healthz`` is ``consumer/stages/health.py``.) Two sources,
both AMQP only (RabbitMQ 3.10 without its management plugin):

- RabbitMQ's counts of each queue's messages and consumers (passive declares);
- the reports each consumer process publishes every minute to ``omero.mail.activity``
  (``consumer/stages/activity.py``): which rules stage is active, what was sent and what
  failed each minute, how late the bridge's events arrive.

From them come the page's lines: red when a queue that a stage consumes holds messages and
nothing consumes it, or when a stage that reported has been silent for more than
:data:`SILENT_AFTER`; green otherwise. Everything here but the readers at the end is
pure, so each rule is tested without a broker. The bridge's own ``/metrics``
(``omero.mail.bridge.metrics.port``) adds its lag as the bridge counts it, when the page
can reach it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from events import topology as topo
from events.monitoring import Verdict

from ..stages.activity import BridgeSeen, Report

#: The queues a stage consumes: messages there with no consumer wait for nothing.
CONSUMED = {topo.EVENTS_QUEUE: "rules", topo.OUTBOX_QUEUE: "delivery"}
PARKING_LOTS = (topo.FAILED_QUEUE, topo.INVALID_QUEUE)
#: Queues that keep what they hold for readers: nobody is meant to consume them.
KEPT = {topo.BROADCASTS_QUEUE: "the last broadcasts (omero-mail broadcast status)",
        topo.ACTIVITY_QUEUE: "the stages' activity reports (this page's chart)"}
STAGES = ("rules", "delivery")
#: Seconds without a report after which a stage that reported is said silent (at least
#: two of its intervals, for a site that reports less often).
SILENT_AFTER = 120.0
#: How far back the chart goes, in minutes, at most: the activity queue keeps six hours.
MOST_MINUTES = topo.ACTIVITY_MAX_AGE_MS // 60_000


@dataclass(frozen=True)
class QueueHealth:
    name: str
    #: "work" (a stage consumes it), "retry", "parking" or "kept".
    kind: str
    #: Messages ready and consumers; None for a queue that does not exist (yet).
    messages: int | None
    consumers: int | None
    #: What the queue is for, in a few words.
    role: str
    verdict: Verdict


@dataclass(frozen=True)
class ProcessHealth:
    """One consumer process, as its newest report tells."""

    report: Report
    #: "reporting", "stopped" (its last report said so) or "silent" (none for too long).
    state: str
    #: Seconds since its newest report.
    silent_for: float
    #: A rules stage that has received events since it connected: the active one.
    active: bool


@dataclass(frozen=True)
class Minute:
    """Mails sent and failed in the minute starting at ``start`` (epoch seconds), all processes together."""

    start: float
    sent: int = 0
    failed: int = 0


@dataclass(frozen=True)
class BridgeLag:
    """The bridge's newest event seen by the rules stage, and the worst lag in the reports read."""

    newest: BridgeSeen
    max_lag: float


@dataclass(frozen=True)
class Health:
    at: float
    queues: tuple[QueueHealth, ...] = ()
    processes: tuple[ProcessHealth, ...] = ()
    minutes: tuple[Minute, ...] = ()
    bridge: BridgeLag | None = None
    #: The red lines, or one green line.
    lines: tuple[Verdict, ...] = ()
    #: What could not be read, in one line each (RabbitMQ unreachable, the reports refused).
    errors: tuple[str, ...] = field(default=())

    @property
    def healthy(self) -> bool:
        return all(line.healthy for line in self.lines) and not self.errors

    def to_json(self) -> dict:
        return {**asdict(self), "healthy": self.healthy}


# -- the queues -----------------------------------------------------------------------------
def queue_kind(name: str) -> tuple[str, str]:
    """(kind, role) of one of omero-mail's queues."""
    if name in CONSUMED:
        return "work", f"work for the {CONSUMED[name]} stage"
    if name in PARKING_LOTS:
        return "parking", "parking lot: what needs a person"
    if name in KEPT:
        return "kept", KEPT[name]
    return "retry", f"retry tier: back to the outbox after {name.rsplit('.', 1)[-1]}"


def queue_verdict(name: str, counted: tuple[int, int] | None) -> Verdict:
    """Red when messages wait in a queue a stage consumes and nothing consumes it."""
    if counted is None:
        return Verdict(True, f"{name} does not exist yet: no stage has connected")
    messages, consumers = counted
    stage = CONSUMED.get(name)
    if stage and messages and not consumers:
        return Verdict(False, f"{messages} message(s) wait in {name} and nothing consumes it: "
                              f"start the {stage} stage (omero-mail consume --stage {stage})")
    return Verdict(True, "ok")


def queues_health(names: Iterable[str], counts: Mapping[str, tuple[int, int] | None]) -> tuple[QueueHealth, ...]:
    """Each queue with its counts and verdict: the work queues, the retry tiers, the parking lots, the kept ones."""
    order = ("work", "retry", "parking", "kept")
    found = []
    for name in names:
        kind, role = queue_kind(name)
        counted = counts.get(name)
        found.append(QueueHealth(name, kind, counted[0] if counted else None, counted[1] if counted else None, role,
                                 queue_verdict(name, counted)))
    return tuple(sorted(found, key=lambda q: order.index(q.kind)))


# -- the processes --------------------------------------------------------------------------
def silent_after(report: Report) -> float:
    return max(SILENT_AFTER, 2 * report.interval)


def processes(reports: Iterable[Report], now: float) -> tuple[ProcessHealth, ...]:
    """Each process by its newest report, those reporting first, then the newest first."""
    newest: dict[str, Report] = {}
    for report in reports:
        if report.process not in newest or report.at > newest[report.process].at:
            newest[report.process] = report
    found = []
    for report in newest.values():
        silent_for = max(0.0, now - report.at)
        state = "stopped" if report.stopping else "silent" if silent_for > silent_after(report) else "reporting"
        active = state == "reporting" and topo.EVENTS_QUEUE in report.receiving
        found.append(ProcessHealth(report, state, silent_for, active))
    return tuple(sorted(found, key=lambda p: (p.state != "reporting", -p.report.at)))


def stage_verdicts(seen: Iterable[ProcessHealth]) -> tuple[Verdict, ...]:
    """Red for a stage whose processes all fell silent without saying they stopped."""
    seen = list(seen)
    lines = []
    for stage in STAGES:
        mine = [p for p in seen if stage in p.report.stages]
        if not mine or any(p.state == "reporting" for p in mine):
            continue
        last = max(mine, key=lambda p: p.report.at)
        if last.state == "silent":
            lines.append(Verdict(False, f"No {stage} stage has reported for {minutes(last.silent_for)}: the last one "
                                        f"({last.report.host}, pid {last.report.pid}) stopped without a word, or "
                                        "cannot reach RabbitMQ"))
    return tuple(lines)


def active_rules(seen: Iterable[ProcessHealth]) -> str:
    """Which rules stage is active, in one sentence."""
    rules = [p for p in seen if "rules" in p.report.stages and p.state == "reporting"]
    active = [p for p in rules if p.active]
    if active:
        names = ", ".join(f"{p.report.host} (pid {p.report.pid})" for p in active)
        standing_by = len(rules) - len(active)
        return f"Active: {names}" + (f"; {standing_by} standing by." if standing_by else ".")
    if len(rules) == 1:
        only = rules[0].report
        return f"Active: {only.host} (pid {only.pid}), the only one (no event since it connected)."
    if rules:
        return (f"{len(rules)} rules stages report, none has received an event since it connected: "
                "the first of them to connect is the active one.")
    return "No rules stage reports."


def minutes(seconds: float) -> str:
    whole = int(seconds // 60)
    return f"{whole} minute{'s' if whole != 1 else ''}" if whole else f"{int(seconds)} s"


# -- the chart and the bridge ------------------------------------------------------------------
def per_minute(reports: Iterable[Report], now: float, count: int) -> tuple[Minute, ...]:
    """The last ``count`` minutes up to the current one, oldest first, with what every process
    sent and failed in each; a report counts in the minute that holds its middle."""
    last = math.floor(now / 60) * 60
    first = last - 60 * (count - 1)
    sent = [0] * count
    failed = [0] * count
    for report in reports:
        index = int((math.floor((report.since + report.at) / 2 / 60) * 60 - first) // 60)
        if 0 <= index < count:
            sent[index] += report.sent
            failed[index] += report.failed
    return tuple(Minute(first + 60 * i, sent[i], failed[i]) for i in range(count))


def bridge_lag(reports: Iterable[Report]) -> BridgeLag | None:
    seen = [r.bridge for r in reports if r.bridge is not None]
    if not seen:
        return None
    return BridgeLag(max(seen, key=lambda b: b.last_occurred_at), max(b.max_lag for b in seen))


def health(now: float, queue_names: Iterable[str], counts: Mapping[str, tuple[int, int] | None] | None,
           reports: Iterable[Report], *, chart_minutes: int = MOST_MINUTES, errors: Iterable[str] = ()) -> Health:
    """The page's whole picture; ``counts`` None when RabbitMQ could not be asked."""
    reports = list(reports)
    queues = queues_health(queue_names, counts) if counts is not None else ()
    seen = processes(reports, now)
    red = tuple(q.verdict for q in queues if not q.verdict.healthy) + stage_verdicts(seen)
    errors = tuple(errors)
    lines = red or (() if errors else (Verdict(True, "Every queue a stage consumes is consumed, and every stage "
                                                     "reported within the last minutes."),))
    return Health(now, queues, seen, per_minute(reports, now, chart_minutes), bridge_lag(reports), lines, errors)


# -- reading RabbitMQ ----------------------------------------------------------------------------
def queue_names(topology: topo.Topology) -> list[str]:
    """omero-mail's queues worth a look: the topology's and the broadcasts' index, not the state stream."""
    return [q.name for q in topology.queues if q.name != topo.STATE_STREAM] + [topo.BROADCASTS_QUEUE]


def merged(before: Iterable[Report], read: Iterable[Report], since: float) -> list[Report]:
    """The reports read now and those read before, each once, none that ended before ``since``.

    A read of the queue misses the reports another reader holds at that moment (another web
    app's process, reading at the same time): those read before stay, so the chart does not
    lose them for a while.
    """
    kept = {(r.process, r.since): r for r in (*before, *read) if r.at >= since}
    return sorted(kept.values(), key=lambda r: r.at)


def read_reports(url: str) -> list[Report]:
    """Every report ``omero.mail.activity`` holds, each given back at once (BrokerError if it cannot be read)."""
    from events.broker import QueueBrowser

    with QueueBrowser(url, topo.ACTIVITY_QUEUE, name="omero-mail health") as browser:
        return [r for r in map(Report.from_json, (m.body for m in browser.messages())) if r is not None]


#: The bridge's own figures on its /metrics (events/bridge/metrics.py), by the names the page uses.
BRIDGE_METRICS = {"omero_mail_bridge_lag_seconds": "lag_seconds", "omero_mail_bridge_lag_rows": "lag_rows",
                  "omero_mail_bridge_active": "active"}


def read_bridge_metrics(host: str, port: int, timeout: float = 1.0) -> dict[str, float]:
    """The bridge's lag (seconds, rows) and whether it leads, from its /metrics; OSError if it does not answer."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    with urllib.request.urlopen(f"http://{netloc}/metrics", timeout=timeout) as response:
        text = response.read(1_000_000).decode("utf-8", "replace")
    return {BRIDGE_METRICS[sample.name]: sample.value for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name in BRIDGE_METRICS}
