"""The chaos run's history: what was done, what was expected, what the SMTP server saw.

As in Jepsen, the run records everything and judges nothing while it runs; the checker
(``checker.py``) reads the whole history afterwards. Every record carries the wall-clock
time it happened:

- a :class:`Fault`: what the schedule did (kind, target, detail), and when it ended;
- an :class:`Expected` mail: one recipient's mail that OMERO activity must produce
  (``required``), or may (a publish whose confirm was lost);
- a :class:`Transaction`: one SMTP transaction the server saw, its reply, and whether the
  server kept the mail (it may keep one whose client gave up waiting, as a real MTA can);
- a :class:`Hostile` act: what a hostile publisher tried, how the broker answered, and where
  the message must end (``invalid``, ``failed``, ``refused``, or ``tolerated``);
- notes (a process that exited by itself, a command that failed) and the final states
  (queues, parking lots, what replay said).

Appends are thread-safe; :meth:`History.dump` writes it all as JSON for a later reading.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path


@dataclass
class Fault:
    at: float
    kind: str
    target: str
    detail: str = ""
    ended: float | None = None


@dataclass
class Expected:
    at: float
    kind: str
    recipient: str
    subject: str
    #: The body's ``class <name>:<id> - <ACTION>`` line for an object mail, else "".
    key: str = ""
    #: The Message-ID the contract derives for it, when the event id is known.
    message_id: str = ""
    cause: str = ""
    required: bool = True
    #: Counted by the flood guard: mailed alone or folded into a digest.
    flood: bool = False
    #: The eventlog rows it comes from (for a database restore).
    eventlog_ids: tuple[int, ...] = ()


@dataclass
class Transaction:
    at: float
    mail_from: str
    recipients: list[str]
    message_id: str
    subject: str
    key: str
    reply: str
    #: The server kept the mail (250, or a hang after which it was kept all the same).
    delivered: bool


@dataclass
class Hostile:
    at: float
    kind: str
    who: str
    #: The event id or the AMQP message id of what was published.
    message_id: str
    #: Where it must end: "invalid", "failed", "refused" (by the broker) or "tolerated".
    must_end: str
    #: Text that the subject of any mail it caused would hold.
    marker: str = ""
    outcome: str = ""


@dataclass
class History:
    seed: int
    minutes: float
    faults: list[Fault] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    hostile: list[Hostile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: name -> (messages, unacknowledged), after the last quiet period.
    queues: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: ``failed list --json`` before the replay, and both lots after it.
    parked_before_replay: list[dict] = field(default_factory=list)
    failed_after: list[dict] = field(default_factory=list)
    invalid_after: list[dict] = field(default_factory=list)
    replayed: int = 0
    started: float = field(default_factory=time.time)
    #: When the faults began (the site was up): the report's times count from here.
    chaos_started: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def fault(self, kind: str, target: str, detail: str = "") -> Fault:
        record = Fault(time.time(), kind, target, detail)
        with self._lock:
            self.faults.append(record)
        return record

    def expect(self, *mails: Expected) -> None:
        with self._lock:
            self.expected.extend(mails)

    def saw(self, transaction: Transaction) -> None:
        with self._lock:
            self.transactions.append(transaction)

    def tried(self, act: Hostile) -> None:
        with self._lock:
            self.hostile.append(act)

    def vanish(self, high: int, gaps: list[tuple[int, int]], since: float) -> int:
        """Before a restore: the mails of rows written since ``since`` that the bridge had not published
        (above ``high``, or in a gap) are no longer expected; the restore takes those rows away."""
        def unpublished(row: int) -> bool:
            return row > high or any(low <= row <= top for low, top in gaps)

        with self._lock:
            gone = [e for e in self.expected if e.required and e.at >= since and any(map(unpublished, e.eventlog_ids))]
            for expected in gone:
                expected.required = False
                expected.cause += " (vanished in a restore before the bridge read it)"
        return len(gone)

    def note(self, text: str) -> None:
        with self._lock:
            self.notes.append(f"{time.time() - (self.chaos_started or self.started):7.1f}s {text}")

    def snapshot(self) -> "History":
        """A copy to judge, taken while nothing else writes."""
        with self._lock:
            return History(self.seed, self.minutes, list(self.faults), list(self.expected),
                           list(self.transactions), list(self.hostile), list(self.notes), dict(self.queues),
                           list(self.parked_before_replay), list(self.failed_after), list(self.invalid_after),
                           self.replayed, self.started, self.chaos_started)

    def dump(self, path: Path) -> None:
        copy = self.snapshot()
        data = {f.name: getattr(copy, f.name) for f in fields(copy) if not f.name.startswith("_")}
        path.write_text(json.dumps(data, indent=1, ensure_ascii=True,
                                   default=lambda value: asdict(value) if is_dataclass(value) else str(value)))
