"""How long ``omero-mail --help`` takes: the whole command, and the part that is ours.

The part that is ours is importing ``consumer.admin.cli`` and printing the help, timed inside a
fresh interpreter; the whole command adds Python's own start-up, timed alongside.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

RUNS = 11
OURS = """
import contextlib, io, time
started = time.perf_counter()
import consumer.admin.cli
imported = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    try:
        consumer.admin.cli.main(["--help"])
    except SystemExit:
        pass
print(imported - started, time.perf_counter() - started)
"""


def _wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(line: Callable[..., None]) -> None:
    script = Path(sys.executable).with_name("omero-mail")
    whole = statistics.median(_wall([str(script), "--help"]) for _ in range(RUNS))
    bare = statistics.median(_wall([sys.executable, "-c", "pass"]) for _ in range(RUNS))
    ours = [tuple(map(float, subprocess.run([sys.executable, "-c", OURS], check=True, capture_output=True,
                                            text=True).stdout.split())) for _ in range(RUNS)]
    imported = statistics.median(i for i, _ in ours)
    total = statistics.median(t for _, t in ours)
    line(0, "omero-mail --help: import + help (median)", f"{1000 * total:.0f} ms",
         f"import {1000 * imported:.0f} ms; whole command {1000 * whole:.0f} ms, python alone {1000 * bare:.0f} ms; "
         "target <= 60 ms")
