"""The injector: each step of the schedule done to the real site, and recorded.

A fault that lasts returns what ends it (a process started again, a node restarted, a
proxy restored, the SMTP server behaving), which the run calls when its time is up, or
at once when the schedule is over. A step that cannot be done now (a second node while
one is down, a restore with no backup) is recorded as skipped, never forced.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Callable

from .history import History
from .hostile import Hostiles
from .omero import Omero
from .processes import Supervisor
from .schedule import Step
from .site import USERS, Site
from .smtp import ChaosHandler
from .workload import Workload

Undo = Callable[[], None]
#: How long a restore waits for the bridge to have published every row before it.
CATCH_UP_SECONDS = 60.0


class Injector:
    def __init__(self, site: Site, supervisor: Supervisor, smtp: ChaosHandler, omero: Omero, workload: Workload,
                 hostiles: Hostiles, history: History, seed: int):
        self.site, self.supervisor, self.smtp, self.omero = site, supervisor, smtp, omero
        self.workload, self.hostiles, self.history = workload, hostiles, history
        self.random = random.Random(f"injector-{seed}")
        self.backup: Path | None = None
        self.backup_at = 0.0
        self.backups = 0

    def apply(self, step: Step) -> Undo | None:
        name = "smtp" if step.kind.startswith("smtp-") else step.kind.replace("-", "_")
        handler = getattr(self, f"_{name}")
        try:
            return handler(step)
        except Exception as exc:  # noqa: BLE001 - a fault that could not be done is recorded, and the run goes on
            self.history.fault(step.kind, step.target, f"failed: {type(exc).__name__}: {exc}")
            return None

    # -- processes -----------------------------------------------------------------
    def _kill(self, step: Step) -> Undo | None:
        return self._down(step, "kill -9", lambda p: p.kill())

    def _stop(self, step: Step) -> Undo | None:
        return self._down(step, "SIGTERM", lambda p: p.terminate())

    def _down(self, step: Step, how: str, action) -> Undo | None:
        if step.target in self.supervisor.held:
            self.history.fault(step.kind, step.target, "skipped: already held down")
            return None
        process = self.supervisor.hold(step.target)
        action(process)
        fault = self.history.fault(step.kind, step.target, f"{how}, started again {step.seconds:.1f}s later")
        return self._ending(fault, lambda: self.supervisor.release(step.target))

    def _ending(self, fault, undo: Undo) -> Undo:
        def end() -> None:
            undo()
            fault.ended = time.time()
        return end

    # -- the broker ----------------------------------------------------------------
    def _close_connection(self, step: Step) -> Undo | None:
        # The table's pid (<rabbit@host.1.2.3>) is the form close_connection takes; JSON's (#PID<...>) is not.
        listed = self.site.ctl("list_connections", "--silent", "pid", "user", "name").stdout.decode()
        connections = [line.split("\t") for line in listed.splitlines() if line.count("\t") >= 2]
        mine = [c for c in connections if c[1] == USERS[step.target]]
        if not mine:
            self.history.fault(step.kind, step.target, "skipped: no connection of that user")
            return None
        pid, _user, name = self.random.choice(mine)[:3]
        self.site.ctl("close_connection", pid, "chaos: connection closed")
        self.history.fault(step.kind, step.target, f"rabbitmqctl close_connection of {name!r}")
        return None

    def _proxy_cut(self, step: Step) -> Undo | None:
        proxy = self.site.proxies[int(step.target.split("-")[1]) - 1]
        proxy.cut()
        fault = self.history.fault(step.kind, step.target, f"every connection through it cut, refused "
                                                           f"for {step.seconds:.1f}s")
        return self._ending(fault, proxy.restore)

    def _node_stop(self, step: Step) -> Undo | None:
        return self._node(step, "rabbitmqctl stop", lambda node: node.stop())

    def _node_kill(self, step: Step) -> Undo | None:
        return self._node(step, "kill -9 of its Erlang VM", lambda node: node.kill())

    def _node(self, step: Step, how: str, action) -> Undo | None:
        index = int(step.target.split("-")[1]) - 1
        if self.site.down:
            self.history.fault(step.kind, step.target, "skipped: another node is down")
            return None
        node = self.site.cluster.nodes[index]
        self.site.down.add(index)
        action(node)
        fault = self.history.fault(step.kind, step.target, f"{how}, started again {step.seconds:.1f}s later")

        def restart() -> None:
            node.start().wait_until_running()
            self.site.down.discard(index)
        return self._ending(fault, restart)

    # -- the SMTP server -------------------------------------------------------------
    def _smtp(self, step: Step) -> Undo | None:
        kind = step.kind.removeprefix("smtp-")
        self.smtp.misbehave(kind, step.value)
        fault = self.history.fault(step.kind, "smtp", f"p={step.value:.2f} for {step.seconds:.1f}s")
        return self._ending(fault, lambda: self.smtp.behave(kind))

    # -- OMERO -----------------------------------------------------------------------
    def _db_backup(self, step: Step) -> Undo | None:
        self.backups += 1
        path = self.site.folder / f"omero-backup-{self.backups}.dump"
        self.backup_at = time.time()
        end = self.omero.backup(path)
        self.backup = path
        self.history.fault(step.kind, "omero-db", f"pg_dump at eventlog id {end}")
        return None

    def _db_restore(self, step: Step) -> Undo | None:
        if self.backup is None:
            self.history.fault(step.kind, "omero-db", "skipped: no backup since the last restore")
            return None
        if "bridge" in self.supervisor.held:
            self.supervisor.release("bridge")
        with self.omero.gate:
            caught_up, high, gaps = self.omero.bridge_caught_up(CATCH_UP_SECONDS)
            end = self.omero.eventlog_end()
            vanished = self.history.vanish(high, gaps, self.backup_at)
            if not caught_up:
                self.history.note(f"db-restore: the bridge had not published up to eventlog id {end} "
                                  f"(state: {high}, gaps {gaps}); {vanished} mail(s) of the rows lost in the "
                                  "restore are no longer expected")
            self.omero.restore(self.backup)
            after = self.omero.eventlog_end()
        self.history.fault(step.kind, "omero-db", f"eventlog end {end} -> {after} ({self.backup.name})")
        self.backup = None
        return None

    def _log_roll(self, step: Step) -> Undo | None:
        self.omero.log.roll()
        self.history.fault(step.kind, "Blitz-0.log", "rolled to .1")
        return None

    def _log_roll_stopped(self, step: Step) -> Undo | None:
        """The bridge stopped, the log rolled several times with failed logins in each file, the bridge started."""
        if "bridge" in self.supervisor.held:
            self.history.fault(step.kind, "bridge", "skipped: the bridge is held down")
            return None
        bridge = self.supervisor.hold("bridge")
        how = self.random.choice(["SIGTERM", "kill -9"])
        bridge.terminate() if how == "SIGTERM" else bridge.kill()
        for _ in range(int(step.value)):
            self.workload.failed_login()
            time.sleep(self.random.uniform(0.3, 1.0))
            self.omero.log.roll()
        self.workload.failed_login()
        self.supervisor.release("bridge")
        self.history.fault(step.kind, "bridge", f"{how}, Blitz-0.log rolled {int(step.value)} times, started again")
        return None

    # -- hostile publishers ----------------------------------------------------------
    def _hostile(self, step: Step) -> Undo | None:
        self.hostiles.act(step.target)
        self.history.fault(step.kind, step.target)
        return None
