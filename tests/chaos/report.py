"""What a chaos run prints: the seed to replay it, the faults injected, the figures, the verdict."""

from __future__ import annotations

import time
from typing import Callable

from .run import Result


def report(result: Result, out: Callable[[str], None] = print) -> None:
    history, verdict, figures = result.history, result.verdict, result.verdict.figures
    out("")
    out("faults injected (seconds from the start of the faults):")
    for fault in history.faults:
        out(f"  {fault.at - history.chaos_started:7.1f}s  {fault.kind:<18} {fault.target:<20} {fault.detail}")
    out("")
    rows = [
        ("faults injected", f"{sum(figures.faults.values())}: "
                            + ", ".join(f"{kind} {n}" for kind, n in sorted(figures.faults.items()))),
        ("hostile acts", f"{sum(figures.hostile.values())}: "
                         + ", ".join(f"{kind} {n}" for kind, n in sorted(figures.hostile.items()))),
        ("mails expected", f"{figures.expected} (and {figures.optional} that may come: an unconfirmed publish, "
                           "a row a restore took)"),
        ("mails delivered", f"{figures.delivered} of those expected ({figures.matched_by_content} matched by "
                            "content, not by their derived Message-ID)"),
        ("mails lost", f"{figures.lost}" + "".join(f"{', ' if n else ': '}{kind} {count}" for n, (kind, count)
                                                   in enumerate(sorted(figures.lost_by.items())))),
        ("duplicates", f"{figures.duplicates} (a second copy under the same Message-ID)"),
        ("flood digests", str(figures.digests)),
        ("SMTP transactions", f"{figures.transactions}, of which {figures.smtp_refusals} refused, dropped or hung"),
        ("parked, then replayed", f"{figures.parked} parked in omero.mail.failed (and {figures.parked_hostile} "
                                  f"hostile), {figures.replayed} replayed"),
        ("longest wait", f"{figures.longest_wait:.1f}s from event to delivery ({figures.longest_what})"),
        ("longest wait, replayed", f"{figures.longest_parked_wait:.1f}s, parked in omero.mail.failed until the "
                                   f"replay ({figures.longest_parked_what})"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        out(f"  {label:<{width}}  {value}")
    if history.notes:
        out("")
        out("notes:")
        for note in history.notes:
            out(f"  {note}")
    out("")
    if verdict.ok:
        out(f"PASSED: every invariant held (seed {history.seed}, {history.minutes:g} minute(s), "
            f"{time.time() - history.started:.0f}s in all)")
    else:
        out("FAILED: " + ", ".join(f"{name} x{count}" for name, count in sorted(verdict.broken.items())))
        for violation in verdict.violations:
            out(f"  [{violation.invariant}] {violation.detail}")
    out(f"replay this run: python -m tests.chaos --seed {history.seed} --minutes {history.minutes:g} "
        f"(history in {result.folder / 'history.json'})")
