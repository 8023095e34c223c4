"""The site's omero-mail processes: real OS processes, so that ``kill -9`` is real.

Each is ``.venv/bin/omero-mail --config <its file> <command>``, its output appended to
``<name>.log`` in the run's folder (a line marks each start). The :class:`Supervisor`
plays systemd's part (``Restart=always``, ``RestartSec=5``): a process that exits while no
fault holds it down is started again 5 s later, and the history notes its exit code. Its
admin's part too, where README says what an admin does when a process stops with a line
(a remedy run before the restart: the bridge after a restored dump). A fault that kills a
process holds it down until the schedule starts it again.

Started with ``setpriv --pdeathsig KILL`` where it exists, so a chaos run that is itself
killed takes its processes along. Start them from the main thread: the signal is sent
when the thread that started them ends.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from .history import History
from .site import OMERO_MAIL

#: systemd's RestartSec in deploy/systemd.
RESTART_SECONDS = 5.0
READY_LINES = ("consuming ", "active: publishing", "standing by")


class Process:
    def __init__(self, name: str, config: Path, command: list[str], folder: Path):
        self.name = name
        self.config = config
        self.command = [str(OMERO_MAIL), "--config", str(config), *command]
        self.log_path = folder / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self._log_offset = 0

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.running:
            return
        prefix = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as out:
            out.write(f"=== chaos: start {self.starts + 1} at {time.strftime('%H:%M:%S')} ===\n".encode())
            out.flush()
            self.popen = subprocess.Popen(prefix + self.command, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.starts += 1

    def kill(self) -> None:
        """``kill -9``."""
        if self.running:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(30)

    def terminate(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, as systemd stops it; ``kill -9`` if it is not gone in ``timeout`` seconds."""
        if not self.running:
            return None
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def output(self) -> str:
        """What this start (the last one) has written."""
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode("utf-8", "replace")

    def ready(self) -> bool:
        """Whether this start has logged that it consumes, publishes or stands by."""
        return self.running and any(line in self.output() for line in READY_LINES)


class Supervisor:
    """The site's processes by name; restarts what exits unasked, as systemd would."""

    def __init__(self, history: History, remedies: dict[str, Callable[[Process], None]] | None = None):
        self.history = history
        #: What an admin does, by process name, before a process that exited is started again.
        self.remedies = dict(remedies or {})
        self.processes: dict[str, Process] = {}
        #: Names a fault holds down: not restarted until the schedule says so.
        self.held: set[str] = set()
        self._exited_at: dict[str, float] = {}

    def add(self, process: Process) -> Process:
        self.processes[process.name] = process
        return process

    def start_all(self, timeout: float = 90.0) -> None:
        for process in self.processes.values():
            process.start()
        deadline = time.monotonic() + timeout
        while not all(p.ready() for p in self.processes.values()):
            for process in self.processes.values():
                if not process.running:
                    raise RuntimeError(f"{process.name} exited ({process.popen and process.popen.returncode}) "
                                       f"while starting; see {process.log_path}")
            if time.monotonic() > deadline:
                waiting = [p.name for p in self.processes.values() if not p.ready()]
                raise RuntimeError(f"not ready within {timeout:.0f}s: {', '.join(waiting)}")
            time.sleep(0.3)

    def hold(self, name: str) -> Process:
        self.held.add(name)
        return self.processes[name]

    def release(self, name: str) -> None:
        self.held.discard(name)
        self.processes[name].start()

    def watch(self) -> None:
        """Restart, 5 s after it exited, each process that exited with no fault holding it."""
        now = time.monotonic()
        for name, process in self.processes.items():
            if name in self.held or process.running or process.popen is None:
                self._exited_at.pop(name, None)
                continue
            if name not in self._exited_at:
                self._exited_at[name] = now
                self.history.note(f"{name} exited by itself with code {process.popen.returncode} "
                                  f"(see {process.log_path.name}); restarting it in {RESTART_SECONDS:.0f}s")
            elif now - self._exited_at[name] >= RESTART_SECONDS:
                del self._exited_at[name]
                if name in self.remedies:
                    self.remedies[name](process)
                process.start()

    def stop_all(self) -> None:
        """SIGTERM to every process, then ``kill -9`` to any left a minute later."""
        self.held.update(self.processes)
        order = list(self.processes.values())
        for process in order:
            if process.running:
                assert process.popen is not None
                process.popen.send_signal(signal.SIGTERM)
        for process in order:
            if process.popen is not None:
                try:
                    process.popen.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
