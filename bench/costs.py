"""Figures 13-17 of ``make bench``: what an email costs, beside the peers, against the targets.

13 the ceilings of one smtplib connection against each sink (aiosmtpd and the lean sink,
``bench/leansink.py``); 14 the fan-out and the many events with the lean sink, one
consumer process; 15 the same with the stages split (``--stage rules`` and ``--stage
delivery``, one process each), so each stage's CPU stands alone; 16 the split stages again
under py-spy, their top functions; 17 the peers (``bench/peers.py``) on the aiosmtpd
sink, as figures 3 and 4. Each run has a vhost of its own, deleted after it. Then the
targets of issue 16, each met or missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from events import topology as topo
from events.broker import Publisher, declare_topology
from events.schemas import new_event
from senders.mail import Mail
from senders.message import build

from . import cpu, peers, profile
from .leansink import LeanSink
from .references import smtp_ceiling

CEILING_MESSAGES = 5_000


@dataclass
class Harness:
    """What ``bench/__main__.py`` lends: its site, its consumer process, its events."""

    workdir: Path
    vhost: str
    ctl: Callable[..., None]
    line: Callable[..., None]
    write_site: Callable[..., Path]
    consumer_process: Callable[..., Any]
    as_message: Callable[[Any], Any]
    comment: Callable[[int, int], Any]
    address: Callable[[int], str]
    free_port: Callable[[], int]
    users: int
    many: int


@dataclass
class Figures:
    """The run's figures the targets are checked against."""

    one_process: dict[str, cpu.Usage] = field(default_factory=dict)
    lean: dict[str, cpu.Usage] = field(default_factory=dict)
    split: dict[str, cpu.Usage] = field(default_factory=dict)
    peers: dict[str, cpu.Usage] = field(default_factory=dict)
    lean_ceiling: float = 0.0
    p99_ms: float = 0.0
    rss_peak_mb: float = 0.0
    rss_after_each: list[float] = field(default_factory=list)


def broadcast() -> Any:
    return new_event("admin.broadcast", {"subject": "Maintenance tonight", "body": "OMERO stops at 22:00.",
                                         "everyone": True, "requested_by": "root"}, source="bench")


def usage_line(harness: Harness, number: int, label: str, usage: cpu.Usage) -> None:
    harness.line(number, label, f"{usage.rate():,.0f} mails/s", f"{usage.seconds:.1f} s")
    print(f"{'':<4}{usage.describe()}", flush=True)


def omero_mail(harness: Harness, name: str, sink: Any, stages: tuple[str, ...],
               profiled: bool = False) -> dict[str, cpu.Usage]:
    """The fan-out and the many events in vhost ``<vhost>-<name>``, one consumer process per stage."""
    vhost = f"{harness.vhost}-{name}"
    harness.ctl("delete_vhost", vhost)
    harness.ctl("add_vhost", vhost)
    harness.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    folder = harness.workdir / name
    folder.mkdir()
    properties = harness.write_site(folder, sink.port, url)
    declare_topology(url, topo.build())
    processes = [harness.consumer_process(properties, folder / f"consumer-{stage}.log", url, stage)
                 for stage in stages]
    usages: dict[str, cpu.Usage] = {}
    try:
        processes[0].wait_connected()
        pids = {("consumer" if stage == "all" else stage): process.process.pid
                for stage, process in zip(stages, processes, strict=True)}
        pids.update({"RabbitMQ": cpu.rabbitmq_pid(), "sink": sink.pid})
        with Publisher(url) as publisher:
            runs: dict[str, tuple[int, Callable[[], None]]] = {
                "fan-out": (harness.users, lambda: publisher.publish(harness.as_message(broadcast()))),
                "many events": (harness.many, lambda: publisher.publish_many(
                    [harness.as_message(harness.comment(n % harness.users + 1, n)) for n in range(harness.many)])),
            }
            for run, (emails, publish) in runs.items():
                sink.reset()
                meter = cpu.Meter(pids, vhost).start()
                profilers = [profile.Profiler(pid, f"{name}-{run.replace(' ', '-')}-{stage}")
                             for stage, pid in pids.items() if stage not in ("RabbitMQ", "sink")] \
                    if profiled else []
                started = time.time()
                publish()
                finished = sink.wait_for(emails)
                usages[run] = meter.stop(emails, finished - started)
                for profiler in profilers:
                    usages[run].profiles.append(profiler.stop())
                sink.reset()
    finally:
        for process in processes:
            process.stop()
        harness.ctl("delete_vhost", vhost)
    return usages


def ceilings(harness: Harness, sink: Any, lean: LeanSink) -> float:
    sample = Mail(message_id="<ceiling@bench.example.org>", event_id="bench", event_type="comment.added",
                  sender="bench", mail_from=peers.MAIL_FROM, to=harness.address(1),
                  subject="[OMERO] INSERT CommentAnnotation notification", text="Modified objects:\n")
    messages = [(peers.MAIL_FROM, harness.address(1), build(sample))] * CEILING_MESSAGES
    found = {}
    for label, target in (("aiosmtpd", sink), ("lean sink", lean)):
        target.reset()
        meter = cpu.Meter({"sink": target.pid}, harness.vhost).start()
        rate = smtp_ceiling(target.port, messages, 1)
        found[label] = (rate, meter.stop(CEILING_MESSAGES, CEILING_MESSAGES / rate).per_email("sink"))
        target.reset()
    four = smtp_ceiling(lean.port, messages, 4)
    lean.reset()
    for label, (rate, sink_us) in found.items():
        harness.line(13, f"SMTP ceiling, {label}: 1 smtplib connection", f"{rate:,.0f} mails/s",
                     f"sink CPU {sink_us:,.0f} us/email" + (f"; 4 connections {four:,.0f} mails/s"
                                                           if label == "lean sink" else ""))
    return found["lean sink"][0]


def run(harness: Harness, sink: Any, figures: Figures) -> None:
    lean = LeanSink(harness.free_port()).start()
    try:
        figures.lean_ceiling = ceilings(harness, sink, lean)
        figures.lean = omero_mail(harness, "lean", lean, ("all",))
        for run_name, usage in figures.lean.items():
            usage_line(harness, 14, f"lean sink, one process: {run_name}", usage)
            print(f"{'':<4}lean ceiling x {usage.rate() / figures.lean_ceiling:.2f}", flush=True)
        figures.split = omero_mail(harness, "split", lean, ("rules", "delivery"))
        for run_name, usage in figures.split.items():
            usage_line(harness, 15, f"lean sink, stages split: {run_name}", usage)
        if profile.py_spy() is None:
            print("16. profile skipped: py-spy not installed (make bench installs it into the venv)", flush=True)
        else:
            profiled = omero_mail(harness, "profiled", lean, ("rules", "delivery"), profiled=True)
            for run_name, usage in profiled.items():
                usage_line(harness, 16, f"under py-spy, stages split: {run_name}", usage)
                for path in usage.profiles:
                    profile.report(path, path.stem)
    finally:
        lean.stop()
    skipped = peers.available()
    if skipped:
        print(f"17. {skipped}", flush=True)
    else:
        for peer in peers.configurations():
            usage = peers.run_one(peer, f"{harness.vhost}-peer", harness.ctl, sink, sink.pid,
                                  harness.workdir / "peers.log", harness.address)
            figures.peers[peer.name] = usage
            usage_line(harness, 17, f"{peer.name}, {peers.EMAILS:,} emails", usage)
    targets(figures)


def targets(figures: Figures) -> None:
    checks: list[tuple[str, str, bool]] = []

    def check(label: str, value: float | None, limit: float, unit: str, at_most: bool = True) -> None:
        if value is None:
            checks.append((label, "not measured", False))
            return
        met = value <= limit if at_most else value >= limit
        checks.append((label, f"{value:,.2f} {unit} {'<=' if at_most else '>='} {limit:,.2f}"
                       if unit == "x" else f"{value:,.0f} {unit} (target {'<=' if at_most else '>='} "
                       f"{limit:,.0f})", met))

    def per_email(usages: dict[str, cpu.Usage], run: str, name: str) -> float | None:
        return usages[run].per_email(name) if run in usages else None

    one = figures.one_process
    check("consumer CPU, fan-out (3)", per_email(one, "fan-out", "consumer"), 350, "us/email")
    check("consumer CPU, many events (4)", per_email(one, "many events", "consumer"), 550, "us/email")
    check("RabbitMQ CPU, fan-out (3)", per_email(one, "fan-out", "RabbitMQ"), 250, "us/email")
    check("RabbitMQ CPU, many events (4)", per_email(one, "many events", "RabbitMQ"), 400, "us/email")
    if figures.peers:
        best_name, best = min(figures.peers.items(), key=lambda item: item[1].per_email("workers"))
        for run, number in (("fan-out", 3), ("many events", 4)):
            check(f"consumer CPU ({number}) <= 1/3 of the best peer's ({best_name})",
                  per_email(one, run, "consumer"), best.per_email("workers") / 3, "us/email")
    else:
        checks.append(("consumer CPU <= 1/3 of the best peer's", "peers skipped", False))
    if "fan-out" in figures.lean and figures.lean_ceiling:
        check("lean sink fan-out / its smtplib ceiling (14/13)",
              figures.lean["fan-out"].rate() / figures.lean_ceiling, 0.8, "x", at_most=False)
    check("latency p99 at 200 events/s (5)", figures.p99_ms, 50, "ms")
    check("consumer peak RSS (7)", figures.rss_peak_mb, 80, "MB")
    spread = max(figures.rss_after_each) - min(figures.rss_after_each) if figures.rss_after_each else None
    check("RSS flat: max - min after each 20,000 (7)", spread, 10, "MB")
    print("\ntargets (issue 16):", flush=True)
    for label, value, met in checks:
        print(f"  {'met   ' if met else 'MISSED'}  {label:<72} {value}", flush=True)
