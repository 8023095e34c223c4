"""Where a stage's CPU goes: py-spy (in the venv, not a dependency) sampling a running process.

``Profiler`` records the stacks of the thread holding the GIL (so Python's CPU, not the
waits) at 100 Hz without pausing the process, until stopped; ``top()`` reads the collapsed
stacks and ranks functions by own and by total time, in percent of the samples. The
collapsed files stay under ``var/bench-profiles/`` for a closer look.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEEP = ROOT / "var" / "bench-profiles"


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, name: str):
        executable = py_spy()
        assert executable is not None
        KEEP.mkdir(parents=True, exist_ok=True)
        self.output = KEEP / f"{name}.txt"
        self.process = subprocess.Popen([executable, "record", "--pid", str(pid), "--format", "raw", "--nolineno",
                                         "--nonblocking", "--gil", "--rate", "100", "--output", str(self.output)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> Path:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)
        return self.output


_PROJECT = ("consumer/", "senders/", "events/")


def _frame(text: str) -> tuple[str, bool]:
    """(``func (package/file.py)``, whether it is omero-mail's own code)."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")")
    return f"{name} ({'/'.join(where.split('/')[-2:])})", where.startswith(_PROJECT)


@dataclass
class Profile:
    samples: int
    main_thread: float
    own: list[tuple[float, str]]
    total: list[tuple[float, str]]


def _common_prefix(stacks: list[list[str]]) -> int:
    length = min(map(len, stacks))
    for index in range(length):
        if any(stack[index] != stacks[0][index] for stack in stacks):
            return index
    return length


def top(path: Path, count: int = 12) -> Profile:
    """Own time: the sampled frame itself. Total time: omero-mail's functions and the first
    library function each of them calls (json, marshmallow, pika, smtplib), anywhere on the
    stack, less the frames every stack of the thread shares (its entry and loop). Both in
    percent of the samples; the main thread is pika's I/O loop."""
    stacks: list[tuple[list[tuple[str, bool]], int]] = []
    for line in path.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if stack and number.isdigit():
            stacks.append(([_frame(frame) for frame in stack.split(";")], int(number)))
    roots: dict[str, list[list[str]]] = {}
    for frames, _ in stacks:
        roots.setdefault(frames[0][0], []).append([name for name, _ in frames])
    shared = {root: _common_prefix(names) for root, names in roots.items()}
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = main = 0
    for frames, weight in stacks:
        samples += weight
        main += 0 if frames[0][0].startswith("Thread._bootstrap") else weight
        own[frames[-1][0]] += weight
        skip = min(shared[frames[0][0]], len(frames) - 1)
        for index in range(skip, len(frames)):
            name, ours = frames[index]
            if ours or frames[index - 1][1]:
                total[name] += weight
    scale = 100 / samples if samples else 0.0
    return Profile(samples, scale * main, [(scale * n, f) for f, n in own.most_common(count)],
                   [(scale * n, f) for f, n in total.most_common(count)])


def report(path: Path, title: str, count: int = 12) -> None:
    found = top(path, count)
    own, total = found.own, found.total
    print(f"   profile {title}: {found.samples:,} samples holding the GIL at 100 Hz, {found.main_thread:.0f} % "
          f"in the main (pika I/O) thread ({path.resolve().relative_to(ROOT)})", flush=True)
    print(f"   {'own %':>6}  function{'':<52} {'total %':>7}  function", flush=True)
    for index in range(max(len(own), len(total))):
        left = f"{own[index][0]:6.1f}  {own[index][1][:60]:<60}" if index < len(own) else " " * 68
        right = f"{total[index][0]:7.1f}  {total[index][1][:70]}" if index < len(total) else ""
        print(f"   {left} {right}", flush=True)
