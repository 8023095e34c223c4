"""The fault schedule: drawn from the seed alone, so a seed names its run.

Pure: no I/O. Every schedule has each kind of fault at least once, at a random moment,
and more of each at a rate per minute, so a 15-minute schedule is denser in total, not
per minute. Two constraints keep the cluster able to serve: at most one node is down at
a time (three nodes survive the loss of one), with a pause between node faults for the
node to rejoin; and each restore of OMERO's database restores a backup taken earlier in
the run (since the previous restore).

Each :class:`Step` says when (seconds from the start), what, to whom, for how long, and
with what probability (SMTP) or count (log rolls while the bridge is stopped).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PROCESSES = ("bridge", "rules-1", "rules-2", "delivery-1", "delivery-2")
ROLES = ("rules", "delivery", "bridge", "web")
SMTP = ("smtp-4xx", "smtp-5xx", "smtp-hang", "smtp-drop")
#: Probability ranges of each SMTP misbehaviour while it is on.
SMTP_PROBABILITY = {"smtp-4xx": (0.5, 1.0), "smtp-5xx": (0.15, 0.4), "smtp-hang": (0.3, 0.6),
                    "smtp-drop": (0.3, 0.7)}
#: Extra faults per minute, beyond one of each kind.
RATES = {"kill": 2.5, "stop": 0.3, "close-connection": 1.5, "proxy-cut": 0.5, "smtp": 1.2, "hostile": 2.0,
         "log-roll": 0.4}
#: Seconds a node fault leaves before the next one: the restart, and the node's queues caught up.
NODE_SPACING = 45.0


@dataclass(frozen=True)
class Step:
    at: float
    kind: str
    target: str = ""
    seconds: float = 0.0
    value: float = 0.0

    def describe(self) -> str:
        text = f"{self.at:6.1f}s {self.kind}"
        if self.target:
            text += f" {self.target}"
        if self.seconds:
            text += f" for {self.seconds:.1f}s"
        if self.kind.startswith("smtp-"):
            text += f" (p={self.value:.2f})"
        elif self.value:
            text += f" x{self.value:.0f}"
        return text


def _count(rng: random.Random, per_minute: float, seconds: float) -> int:
    """How many more of a kind: Poisson-like, from the rate and the length."""
    expected = per_minute * seconds / 60
    return int(expected) + (1 if rng.random() < expected - int(expected) else 0)


def build(seed: int, seconds: float, hostile_kinds: tuple[str, ...]) -> list[Step]:
    rng = random.Random(f"schedule-{seed}")
    steps: list[Step] = []

    def when(low: float = 0.03, high: float = 0.92) -> float:
        return round(rng.uniform(low * seconds, high * seconds), 1)

    for process in PROCESSES:
        steps.append(Step(when(), "kill", process, round(rng.uniform(0.5, 6.0), 1)))
    for _ in range(_count(rng, RATES["kill"], seconds)):
        steps.append(Step(when(), "kill", rng.choice(PROCESSES), round(rng.uniform(0.5, 6.0), 1)))
    for _ in range(1 + _count(rng, RATES["stop"], seconds)):
        steps.append(Step(when(), "stop", rng.choice(PROCESSES), round(rng.uniform(0.5, 4.0), 1)))
    for _ in range(1 + _count(rng, RATES["close-connection"], seconds)):
        steps.append(Step(when(), "close-connection", rng.choice(ROLES)))
    for _ in range(1 + _count(rng, RATES["proxy-cut"], seconds)):
        steps.append(Step(when(), "proxy-cut", f"node-{rng.randint(1, 3)}", round(rng.uniform(2.0, 8.0), 1)))
    smtp = list(SMTP) + [rng.choice(SMTP) for _ in range(_count(rng, RATES["smtp"], seconds))]
    for kind in smtp:
        low, high = SMTP_PROBABILITY[kind]
        steps.append(Step(when(), kind, "", round(rng.uniform(4.0, 15.0), 1), round(rng.uniform(low, high), 2)))
    hostile = list(hostile_kinds) + [rng.choice(hostile_kinds) for _ in range(_count(rng, RATES["hostile"], seconds))]
    steps.extend(Step(when(), "hostile", kind) for kind in hostile)
    for _ in range(1 + _count(rng, RATES["log-roll"], seconds)):
        steps.append(Step(when(), "log-roll"))
    for _ in range(max(1, round(seconds / 240))):
        steps.append(Step(when(), "log-roll-stopped", "bridge", 0.0, rng.choice([2, 3])))
    steps.extend(_restores(rng, seconds))
    steps.extend(_node_faults(rng, seconds))
    return sorted(steps, key=lambda step: step.at)


def _restores(rng: random.Random, seconds: float) -> list[Step]:
    """Backup, then restore, in turn: each restore goes back to the backup before it."""
    count = max(1, round(seconds / 300))
    span = 0.85 * seconds / count
    steps = []
    for index in range(count):
        start = 0.05 * seconds + index * span
        backup = round(start + rng.uniform(0.0, 0.3) * span, 1)
        steps.append(Step(backup, "db-backup"))
        steps.append(Step(round(backup + rng.uniform(0.35, 0.65) * span, 1), "db-restore"))
    return steps


def _node_faults(rng: random.Random, seconds: float) -> list[Step]:
    """One node down at a time, each for a while, then time to rejoin before the next."""
    count = max(1, round(seconds / 180))
    span = 0.85 * seconds / count
    steps = []
    for index in range(count):
        down = round(rng.uniform(8.0, 20.0), 1)
        latest = max(0.0, span - down - NODE_SPACING)
        at = round(0.05 * seconds + index * span + rng.uniform(0.0, latest), 1)
        steps.append(Step(at, rng.choice(["node-stop", "node-kill"]), f"node-{rng.randint(1, 3)}", down))
    return steps
