"""``python -m tests.chaos --seed N --minutes M``: one chaos run, its report, exit 0 if every invariant held.

Without ``--seed`` a seed is drawn and printed; the same seed draws the same schedule and
workload again. The run's files (each process's log, the OMERO backups, ``history.json``)
stay in ``--folder`` (default ``var/chaos/seed-N-<time>``) for reading afterwards.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys
import time
from pathlib import Path

from .report import report
from .run import run
from .site import ROOT, SiteError


def _interrupted(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="the run's seed (default: drawn and printed)")
    parser.add_argument("--minutes", type=float, default=15.0, help="how long faults are injected (default 15)")
    parser.add_argument("--folder", type=Path, default=None, help="where the run's files go")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be above 0")
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    folder = args.folder or ROOT / "var" / "chaos" / f"seed-{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    signal.signal(signal.SIGTERM, _interrupted)
    folder.mkdir(parents=True, exist_ok=True)
    # The run's own omero-mail calls (the web role's publisher) log here, not over the report.
    logging.basicConfig(filename=folder / "chaos.log", level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = run(seed, args.minutes, folder, out=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        print(f"interrupted; everything started was stopped (seed {seed})", file=sys.stderr)
        return 130
    except SiteError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 1
    report(result, out=lambda line: print(line, flush=True))
    return 0 if result.verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
