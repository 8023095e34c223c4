"""One chaos run, from an empty folder to a verdict.

1. The site (``site.py``): a 3-node cluster, an OMERO database, the SMTP server; the bridge,
   two rules stages (one active, one standing by) and two delivery workers as processes.
2. The chaos phase: the workload (``workload.py``) runs while the schedule's faults are
   injected (``faults.py``) and the supervisor restarts what exits by itself.
3. Healing: every fault ended, the SMTP server behaving, every process up; one last event.
4. A quiet period (the work queues empty, nothing unacked, the SMTP server idle, the last
   flood window over), ``omero-mail failed replay`` as the delivery role, and another.
5. The queues and parking lots are read, and the checker (``checker.py``) judges the history.

Everything started is stopped on the way out, whatever happened (an ExitStack: processes,
then the workload, then the cluster and the database, then the SMTP server).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.services import free_port

from . import schedule
from .checker import STREAM, Verdict, check
from .faults import Injector, Undo
from .history import History
from .hostile import KINDS, Hostiles
from .omero import Omero
from .processes import Process, Supervisor
from .site import FLOOD_WINDOW, OMERO_MAIL, VHOST, Site, chaos_site
from .smtp import ChaosHandler, start_server
from .workload import Workload

#: How long a quiet period may take before the run gives up waiting and lets the checker judge.
SETTLE_TIMEOUT = 240.0
#: Nothing moving (queues, SMTP) this long while work is left: stuck; waiting longer shows nothing more.
STALLED_SECONDS = 45.0
#: The SMTP server idle this long means the mail has stopped flowing.
IDLE_SECONDS = 6.0


@dataclass
class Result:
    verdict: Verdict
    history: History
    steps: list[schedule.Step]
    folder: Path


def run(seed: int, minutes: float, folder: Path, out: Callable[[str], None] = print) -> Result:
    seconds = minutes * 60
    steps = schedule.build(seed, seconds, KINDS)
    history = History(seed, minutes)
    folder.mkdir(parents=True, exist_ok=True)
    out(f"chaos run: seed {seed}, {minutes:g} minute(s) of faults, {len(steps)} steps; its files in {folder}")
    try:
        with contextlib.ExitStack() as stack:
            sink, smtp = start_server(history, seed, free_port())
            stack.callback(sink.stop)
            site = stack.enter_context(chaos_site(folder, sink.port))
            omero = Omero(site)
            omero.set_up()
            workload = Workload(site, omero, history, seed, seconds)
            stack.callback(workload.stop)
            supervisor = _processes(site, history)
            stack.callback(supervisor.stop_all)
            supervisor.start_all()
            out(f"site up: 3 RabbitMQ nodes, OMERO database {site.database}, SMTP on {sink.port}; "
                f"{', '.join(supervisor.processes)} running")
            injector = Injector(site, supervisor, smtp, omero, workload, Hostiles(site, omero, history, seed),
                                history, seed)
            history.chaos_started = time.time()
            workload.start()
            pending = _chaos(steps, injector, supervisor, seconds, history)
            workload.stop()
            out(f"chaos over: {len(history.faults)} faults and steps done, {workload.count} actions; healing")
            _heal(site, supervisor, smtp, pending, history)
            workload.final_marker()
            _settle(site, supervisor, history, minimum=FLOOD_WINDOW + 5, out=out)
            _replay(site, history, out)
            _settle(site, supervisor, history, minimum=IDLE_SECONDS, out=out)
            history.queues = _queues(site)
            history.failed_after = _lot(site, "failed")
            history.invalid_after = _lot(site, "invalid")
    finally:
        history.dump(folder / "history.json")
    return Result(check(history), history, steps, folder)


def _processes(site: Site, history: History) -> Supervisor:
    supervisor = Supervisor(history, {"bridge": lambda bridge: _after_restore(bridge, history)})
    for name, role, offset, command in (("bridge", "bridge", 0, ["bridge"]),
                                        ("rules-1", "rules", 0, ["consume", "--stage", "rules"]),
                                        ("rules-2", "rules", 1, ["consume", "--stage", "rules"]),
                                        ("delivery-1", "delivery", 1, ["consume", "--stage", "delivery"]),
                                        ("delivery-2", "delivery", 2, ["consume", "--stage", "delivery"])):
        supervisor.add(Process(name, site.config(name, role, offset), command, site.folder))
    return supervisor


def _after_restore(bridge: Process, history: History) -> None:
    """README's remedy when the bridge stops because OMERO's eventlog went back (a restored dump):
    run once the ``omero-mail bridge --once --from-id N`` it names, then start it again."""
    said = bridge.output()
    found = re.search(r"omero-mail bridge --once --from-id (\d+)", said)
    if "eventlog went back" not in said or found is None:
        return
    done = subprocess.run([str(OMERO_MAIL), "--config", str(bridge.config), "bridge", "--once", "--from-id",
                           found.group(1)], capture_output=True, text=True, timeout=300)
    history.note(f"admin, as the bridge asked after a restore: omero-mail bridge --once --from-id {found.group(1)} "
                 f"exited {done.returncode}: {(done.stdout or done.stderr).strip()[-200:]}")


def _chaos(steps: list[schedule.Step], injector: Injector, supervisor: Supervisor, seconds: float,
           history: History) -> list[tuple[float, int, Undo]]:
    """Each step at its time; what ends a fault when its time is up. Returns the faults still on."""
    started = time.monotonic()
    pending: list[tuple[float, int, Undo]] = []
    for number, step in enumerate(steps):
        _until(started + step.at, pending, supervisor, history)
        undo = injector.apply(step)
        if undo is not None:
            heapq.heappush(pending, (time.monotonic() + step.seconds, number, undo))
    _until(started + seconds, pending, supervisor, history)
    return pending


def _until(deadline: float, pending: list, supervisor: Supervisor, history: History) -> None:
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _end(heapq.heappop(pending)[2], history)
        supervisor.watch()
        if now >= deadline:
            return
        time.sleep(min(0.2, deadline - now))


def _end(undo: Undo, history: History) -> None:
    try:
        undo()
    except Exception as exc:  # noqa: BLE001 - a fault that will not end is the run's to report, not to die of
        history.note(f"ending a fault failed: {type(exc).__name__}: {exc}")


def _heal(site: Site, supervisor: Supervisor, smtp: ChaosHandler, pending: list, history: History) -> None:
    for _at, _number, undo in sorted(pending):
        _end(undo, history)
    smtp.behave()
    for proxy in site.proxies:
        proxy.restore()
    for index in sorted(site.down):
        site.cluster.nodes[index].start().wait_until_running()
        site.down.discard(index)
    for name in list(supervisor.held):
        supervisor.release(name)
    for process in supervisor.processes.values():
        process.start()
    deadline = time.monotonic() + 90
    while not all(p.ready() for p in supervisor.processes.values()) and time.monotonic() < deadline:
        supervisor.watch()
        time.sleep(0.5)


def _queues(site: Site) -> dict[str, tuple[int, int]]:
    listed = site.ctl("list_queues", "-p", VHOST, "name", "messages", "messages_unacknowledged",
                      "--formatter", "json").stdout
    return {q["name"]: (int(q.get("messages") or 0), int(q.get("messages_unacknowledged") or 0))
            for q in json.loads(listed or b"[]")}


def _busy(queues: dict[str, tuple[int, int]]) -> bool:
    for name, (messages, unacked) in queues.items():
        work = name in ("omero.mail.events", "omero.mail.outbox") or name.startswith("omero.mail.retry.")
        if (work and messages) or (unacked and name != STREAM):
            return True
    return False


def _settle(site: Site, supervisor: Supervisor, history: History, minimum: float, out: Callable[[str], None]) -> None:
    """Wait for quiet: work queues empty, nothing unacked, the SMTP server idle, and ``minimum`` seconds gone.

    Gives up when nothing has moved for :data:`STALLED_SECONDS` (a message held for good), or
    after :data:`SETTLE_TIMEOUT`: the checker then judges what is there.
    """
    started = time.monotonic()
    seen, moved = None, started
    while (now := time.monotonic()) - started < SETTLE_TIMEOUT:
        supervisor.watch()
        queues = _queues(site)
        idle = time.time() - max((t.at for t in history.transactions), default=0.0)
        if now - started >= minimum and idle >= IDLE_SECONDS and not _busy(queues):
            out(f"quiet after {now - started:.0f}s")
            return
        state = (sorted(queues.items()), len(history.transactions))
        if state != seen:
            seen, moved = state, now
        elif now - started >= minimum and now - moved >= STALLED_SECONDS:
            break
        time.sleep(3)
    left = {name: counts for name, counts in _queues(site).items() if counts != (0, 0)}
    history.note(f"no quiet period after {time.monotonic() - started:.0f}s; queues (messages, unacked): {left}")
    out("no quiet period: judging as it is")


def _cli(site: Site, *args: str) -> subprocess.CompletedProcess:
    """An admin's ``omero-mail`` command, as the delivery role (it reads and replays the parking lots)."""
    config = site.config("admin", "delivery", offset=2)
    return subprocess.run([str(OMERO_MAIL), "--config", str(config), *args], capture_output=True, text=True,
                          timeout=300)


def _lot(site: Site, lot: str) -> list[dict]:
    done = _cli(site, lot, "list", "--json")
    if done.returncode:
        raise RuntimeError(f"omero-mail {lot} list failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def _replay(site: Site, history: History, out: Callable[[str], None]) -> None:
    history.parked_before_replay = _lot(site, "failed")
    done = _cli(site, "failed", "replay")
    found = re.search(r"replayed (\d+) message", done.stdout)
    history.replayed = int(found.group(1)) if found else 0
    if done.returncode:
        history.note(f"omero-mail failed replay exited {done.returncode}: {done.stderr.strip()[-300:]}")
    out(f"omero-mail failed replay: {done.stdout.strip() or done.stderr.strip()[-200:]}")
