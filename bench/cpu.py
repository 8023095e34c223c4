"""CPU per email for each process of a run, and the broker's operations per email.

CPU is utime + stime from ``/proc/<pid>/stat`` of the process and of its living descendants
(Celery's prefork children, Dramatiq's worker process), read before and after a run. The
broker's operations come from RabbitMQ's global counters (``rabbit_global_counters``,
RabbitMQ 3.9 and later, no management plugin needed); they count the whole node, so the
run notes whether another vhost had connections open meanwhile.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

TICKS = os.sysconf("SC_CLK_TCK")
_COUNTERS = ("maps:fold(fun(_K, V, A) -> maps:fold(fun(N, C, B) -> maps:update_with(N, fun(X) -> X + C end, C, B) "
             "end, A, V) end, #{}, rabbit_global_counters:overview()).")
# What a reader calls each counter: a publish received, a delivery to a consumer, an ack.
OPERATIONS = {"publishes": "messages_received_total", "deliveries": "messages_delivered_total",
              "acks": "messages_acknowledged_total"}


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                tree.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    return tree


def cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its living descendants."""
    tree, total, todo = _children(), 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = _stat(current)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
        todo += tree.get(current, [])
    return total


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60).stdout


def rabbitmq_pid() -> int:
    """The pid of the beam.smp that rabbitmqctl (and so localhost:5672) talks to."""
    return int(_rabbitmqctl("eval", "os:getpid().").strip().strip('"'))


def broker_counters() -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r"(\w+) => (-?\d+)", _rabbitmqctl("eval", _COUNTERS))}


def other_vhosts(vhost: str) -> set[str]:
    """The vhosts other than ``vhost`` with a connection open now."""
    return {name for name in _rabbitmqctl("list_connections", "--no-table-headers", "vhost").split() if name != vhost}


@dataclass
class Usage:
    """One run's CPU seconds per process and broker operations; divided by ``emails``."""

    emails: int
    seconds: float
    cpu: dict[str, float]
    operations: dict[str, int]
    noise: set[str] = field(default_factory=set)
    profiles: list[Path] = field(default_factory=list)

    def per_email(self, name: str) -> float:
        """µs of CPU per email of the process named ``name``."""
        return 1e6 * self.cpu[name] / self.emails

    def rate(self) -> float:
        return self.emails / self.seconds

    def describe(self) -> str:
        cpu = ", ".join(f"{name} {self.per_email(name):,.0f}" for name in self.cpu)
        operations = ", ".join(f"{value / self.emails:.2f} {name}" for name, value in self.operations.items())
        note = f"; other vhosts busy: {', '.join(sorted(self.noise))}" if self.noise else ""
        return f"CPU us/email: {cpu}; broker per email: {operations}{note}"


class Meter:
    """CPU of named pids and the broker's counters between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, int], vhost: str):
        self.pids, self.vhost = pids, vhost

    def start(self) -> "Meter":
        self.noise = other_vhosts(self.vhost)
        self.counters = broker_counters()
        self.cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def stop(self, emails: int, seconds: float) -> Usage:
        cpu = {name: cpu_seconds(pid) - self.cpu[name] for name, pid in self.pids.items()}
        counters = broker_counters()
        operations = {name: counters.get(key, 0) - self.counters.get(key, 0) for name, key in OPERATIONS.items()}
        return Usage(emails, seconds, cpu, operations, self.noise | other_vhosts(self.vhost))


def measured(pids: dict[str, int], vhost: str, emails: int, run: Callable[[], float]) -> Usage:
    """Run ``run`` (which returns its elapsed seconds) between two readings."""
    meter = Meter(pids, vhost).start()
    return meter.stop(emails, run())
