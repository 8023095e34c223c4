"""The checker: the whole history judged against the invariants of "every message settles".

Pure: a :class:`~tests.chaos.history.History` in, a :class:`Verdict` out. A mail is told
by what its recipient sees: the recipient, the subject and, for an object mail, the
``class <name>:<id> - <ACTION>`` line of its body. Expected mails are matched to the mails
the SMTP server kept, first by the Message-ID the contract derives from the event id
(where the history knows it), then by that content, one Message-ID per expected mail.

Invariants, each broken one a :class:`Violation`:

- ``lost``: every required mail was delivered (after ``omero-mail failed replay``);
- ``another Message-ID``: a mail never arrives under two Message-IDs (a duplicate keeps
  its Message-ID); more Message-IDs than mails expected for the same content breaks it;
- ``flood``: the flood guard accounts for each alike event once per recipient: the mails
  sent one by one plus the counts of the digests equal the events, so a digest sent twice
  (under two Message-IDs), or an event both mailed and folded, breaks it;
- ``refused sent``: no mail of a hostile message reached the SMTP server;
- ``unexpected``: no mail that no activity asked for;
- ``queues``: the work queues are empty and nothing is unacknowledged anywhere, after the
  quiet period and the replay; the parking lots hold hostile messages only;
- ``hostile``: each hostile message ended where it must (refused by the broker, or parked
  with the reason), never dropped silently.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .history import Expected, History

DIGEST = re.compile(r"^(?P<base>.*) \((?P<count>\d+) more\)$")
STREAM = "omero.mail.rules.state"
SHOWN = 12


def hostile_mark(subject: str, recipient: str) -> bool:
    return "CHAOS-HOSTILE" in subject or "chaos-hostile" in subject or recipient.endswith("@evil.example")


def tolerated(subject: str) -> bool:
    """A hostile publisher's own valid web error (the future bridge ids): it may be mailed."""
    return "chaos-squat" in subject


@dataclass
class Violation:
    invariant: str
    detail: str


@dataclass
class Figures:
    faults: Counter = field(default_factory=Counter)
    hostile: Counter = field(default_factory=Counter)
    expected: int = 0
    optional: int = 0
    delivered: int = 0
    lost: int = 0
    #: Lost mails by sender, and whether OMERO's database had been restored before their event.
    lost_by: Counter = field(default_factory=Counter)
    duplicates: int = 0
    transactions: int = 0
    smtp_refusals: int = 0
    parked: int = 0
    parked_hostile: int = 0
    replayed: int = 0
    digests: int = 0
    longest_wait: float = 0.0
    longest_what: str = ""
    #: The same for the mails that waited in omero.mail.failed for the replay at the end.
    longest_parked_wait: float = 0.0
    longest_parked_what: str = ""
    matched_by_content: int = 0


@dataclass
class Verdict:
    #: The first few of each invariant's violations; ``broken`` counts them all.
    violations: list[Violation]
    figures: Figures
    broken: Counter = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass
class _Mail:
    """One Message-ID kept for one recipient: when first, how many times."""

    message_id: str
    recipient: str
    subject: str
    key: str
    first: float
    copies: int = 1


def _kept(history: History) -> dict[tuple[str, str], _Mail]:
    kept: dict[tuple[str, str], _Mail] = {}
    for t in sorted(history.transactions, key=lambda t: t.at):
        if not t.delivered:
            continue
        for recipient in t.recipients:
            mail = kept.get((t.message_id, recipient))
            if mail is None:
                kept[(t.message_id, recipient)] = _Mail(t.message_id, recipient, t.subject, t.key, t.at)
            else:
                mail.copies += 1
    return kept


class _Judge:
    def __init__(self, history: History):
        self.history = history
        self.parked = {(e.get("message_id"), r) for e in history.parked_before_replay
                       for r in (e.get("recipients_owed") or [e.get("recipient")])}
        self.violations: list[Violation] = []
        self.figures = Figures()
        self.broken: Counter = Counter()

    def fail(self, invariant: str, detail: str) -> None:
        self.broken[invariant] += 1
        if self.broken[invariant] <= SHOWN:
            self.violations.append(Violation(invariant, detail))
        elif self.broken[invariant] == SHOWN + 1:
            self.violations.append(Violation(invariant, "... more of these, not shown (see history.json)"))

    def waited(self, expected: Expected, mail: _Mail) -> None:
        wait, what = mail.first - expected.at, f"{expected.cause} -> {expected.recipient}"
        figures = self.figures
        if (mail.message_id, mail.recipient) in self.parked:
            if wait > figures.longest_parked_wait:
                figures.longest_parked_wait, figures.longest_parked_what = wait, what
        elif wait > figures.longest_wait:
            figures.longest_wait, figures.longest_what = wait, what

    def lost(self, expected: Expected, count: int = 1) -> None:
        self.figures.lost += count
        after = " after a restore" if "after restore" in expected.cause else ""
        self.figures.lost_by[f"{expected.kind}{after}"] += count

    def pair(self, key, expected: list[Expected], mails: list[_Mail]) -> None:
        """One content's expected mails against the Message-IDs that came with it."""
        left = {m.message_id: m for m in mails}
        waiting = []
        for e in expected:
            mail = left.pop(e.message_id, None) if e.message_id else None
            if mail is None:
                waiting.append(e)
            else:
                self.waited(e, mail)
        waiting.sort(key=lambda e: (not e.required, e.at))
        rest = sorted(left.values(), key=lambda m: m.first)
        # Which of several alike mails is whose is a guess: such a pair says nothing of the wait.
        alone = len(waiting) == 1
        for e in waiting:
            if rest:
                mail = rest.pop(0)
                self.figures.matched_by_content += 1
                if alone:
                    self.waited(e, mail)
            elif e.required:
                self.lost(e)
                self.fail("lost", f"{e.cause} -> {e.recipient}: {e.subject!r} never delivered")
        for mail in rest:
            if expected:
                self.fail("another Message-ID", f"{mail.recipient}: {mail.subject!r} {mail.key} came as "
                                               f"{mail.message_id}, one more Message-ID than the "
                                               f"{len(expected)} mail(s) expected")
            else:
                self.fail("unexpected", f"{mail.recipient}: {mail.subject!r} {mail.key} ({mail.message_id}) "
                                        "was asked for by nothing the run did")

    def flood(self, key, expected: list[Expected], mails: list[_Mail]) -> None:
        recipient, subject = key
        alone = [m for m in mails if m.subject == subject]
        digests = [(m, int(DIGEST.match(m.subject).group("count"))) for m in mails if m.subject != subject]
        self.figures.digests += len(digests)
        by_id = {e.message_id: e for e in expected if e.message_id}
        for mail in alone:
            if mail.message_id in by_id:
                self.waited(by_id[mail.message_id], mail)
        folded = sum(count for _mail, count in digests)
        required = sum(1 for e in expected if e.required)
        accounted = len(alone) + folded
        if accounted < required:
            self.lost(expected[0], required - accounted)
            self.fail("lost", f"{recipient}: {subject!r}: {required} event(s), but {len(alone)} mailed alone and "
                              f"{folded} folded into {len(digests)} digest(s)")
        elif accounted > len(expected):
            self.fail("flood", f"{recipient}: {subject!r}: {len(expected)} event(s), but {len(alone)} mailed alone "
                               f"and {folded} folded into {len(digests)} digest(s) "
                               f"({', '.join(str(c) for _m, c in digests)}): events counted twice")


def check(history: History) -> Verdict:
    judge = _Judge(history)
    figures = judge.figures
    kept = _kept(history)
    figures.duplicates = sum(m.copies - 1 for m in kept.values())
    figures.transactions = len(history.transactions)
    figures.smtp_refusals = sum(1 for t in history.transactions if not t.delivered)
    figures.faults = Counter(f.kind for f in history.faults
                             if f.kind != "hostile" and not f.detail.startswith(("skipped", "failed")))
    figures.hostile = Counter(a.kind for a in history.hostile)
    figures.expected = sum(1 for e in history.expected if e.required)
    figures.optional = sum(1 for e in history.expected if not e.required)

    flood_keys = {(e.recipient, e.subject) for e in history.expected if e.flood}
    expected: dict[tuple, list[Expected]] = defaultdict(list)
    for e in history.expected:
        expected[(e.recipient, e.subject) if e.flood else (e.recipient, e.subject, e.key)].append(e)
    delivered: dict[tuple, list[_Mail]] = defaultdict(list)
    for mail in kept.values():
        if hostile_mark(mail.subject, mail.recipient):
            judge.fail("refused sent", f"{mail.recipient}: {mail.subject!r} ({mail.message_id}) was mailed "
                                       f"{mail.copies} time(s)")
            continue
        if tolerated(mail.subject):
            continue
        digest = DIGEST.match(mail.subject)
        if (mail.recipient, mail.subject) in flood_keys:
            delivered[(mail.recipient, mail.subject)].append(mail)
        elif digest and (mail.recipient, digest.group("base")) in flood_keys:
            delivered[(mail.recipient, digest.group("base"))].append(mail)
        else:
            delivered[(mail.recipient, mail.subject, mail.key)].append(mail)
    for key in sorted(set(expected) | set(delivered)):
        if key in flood_keys:
            judge.flood(key, expected[key], delivered[key])
        else:
            judge.pair(key, expected[key], delivered[key])
    figures.delivered = figures.expected - figures.lost
    _queues(judge, history)
    _hostile(judge, history, {mail.subject for mail in kept.values()})
    return Verdict(judge.violations, figures, judge.broken)


def _is_hostile_entry(entry: dict, hostile_ids: set[str]) -> bool:
    return (entry.get("message_id") in hostile_ids or entry.get("event_id") in hostile_ids
            or hostile_mark(str(entry.get("subject", "")), str(entry.get("recipient", ""))))


def _queues(judge: _Judge, history: History) -> None:
    if not history.queues:
        judge.fail("queues", "the queues could not be read at the end")
    for name, (messages, unacked) in sorted(history.queues.items()):
        work = name in ("omero.mail.events", "omero.mail.outbox") or name.startswith("omero.mail.retry.")
        if work and messages:
            judge.fail("queues", f"{name} holds {messages} message(s) after the quiet period")
        if unacked and name != STREAM:
            judge.fail("queues", f"{name} has {unacked} unacknowledged message(s) after the quiet period")
    # A tolerated act's mail (a web error under a squatted id) is owed like any other once parked.
    hostile_ids = {a.message_id for a in history.hostile if a.must_end != "tolerated"}
    figures = judge.figures
    figures.parked_hostile = sum(1 for e in history.parked_before_replay if _is_hostile_entry(e, hostile_ids))
    figures.parked = len(history.parked_before_replay) - figures.parked_hostile
    figures.replayed = history.replayed
    for entry in history.failed_after:
        if not _is_hostile_entry(entry, hostile_ids):
            judge.fail("queues", f"omero.mail.failed still holds {entry.get('recipient')}: {entry.get('subject')!r} "
                                 f"after the replay ({entry.get('error')})")
    for entry in history.invalid_after:
        if not _is_hostile_entry(entry, hostile_ids):
            judge.fail("queues", f"omero.mail.invalid holds event {entry.get('message_id')} "
                                 f"({entry.get('sender')}), which no hostile publisher sent: {entry.get('error')}")


def _hostile(judge: _Judge, history: History, subjects: set[str]) -> None:
    """Where each hostile message ended; one that was mailed is already a ``refused sent``."""
    parked = {lot: {e.get("message_id") for e in entries}
              for lot, entries in (("invalid", history.invalid_after), ("failed", history.failed_after))}
    for act in history.hostile:
        refused = act.outcome.startswith("refused by the broker")
        mailed = act.marker and any(act.marker in subject for subject in subjects)
        if act.outcome.startswith("not sent") or act.must_end == "tolerated" or mailed:
            continue
        if act.must_end == "refused":
            if not refused:
                judge.fail("hostile", f"{act.kind} by {act.who}: RabbitMQ took it ({act.outcome})")
        elif not refused and act.message_id not in parked[act.must_end]:
            judge.fail("hostile", f"{act.kind} by {act.who} ({act.message_id}) is not in omero.mail.{act.must_end}: "
                                  "neither refused nor parked with a reason")
