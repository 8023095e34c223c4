"""A broadcast's outcomes, kept after the command exits: a durable queue per broadcast.

``omero-mail broadcast`` declares ``omero.mail.broadcast.<event id>`` (durable, bound to
``omero.mail.results`` with ``<event id>.#``) BEFORE it publishes the event, so no
outcome is missed however fast the consumers are. The queue keeps every outcome (the
rules stage's ``planned`` with total/no_email/invalid, the delivery stage's ``sent``,
``retrying``, ``failed`` per email; a ``sent`` may report several emails of the broadcast
at once, consumer/stages/sent_reports.py) until ``omero.mail.broadcast.results.expires`` after
it was last read (RabbitMQ's ``x-expires``), so ``broadcast status ID`` works days later.

The command also publishes a ``queued`` outcome first, so a known broadcast's queue is
never empty, and so that ``omero.mail.broadcasts`` (the last 1,000 broadcasts' ``queued``
outcomes) can answer ``broadcast status`` with an ID prefix, as ``failed show`` takes one,
and list the recent broadcasts in the web app: that outcome carries the subject, the
requester, the recipients in a few words and the Cc and Bcc counts (one without them, from
an older command, still counts). ``status`` only reads: for an unknown ID it creates nothing.

Reading never removes anything, and never hides anything from another reader for longer
than one read of the queue: ``status`` reads it with ``events.broker.QueueBrowser``, which
gives everything back at once; ``--wait`` reads it so once, and follows what is added to
it through a queue of its own, consumed with automatic acks (``events.broker.Follower``),
so a wait of hours holds nothing and outlives RabbitMQ's ``consumer_timeout``. Outcomes
are counted once per email (by the email's Message-ID), so a copy read twice or an
at-least-once duplicate never counts twice, and an email that failed and was later
replayed counts as sent.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from events import topology as topo
from events.broker import Follower, Message, QueueBrowser, declare_topology, existing_queues

from .. import outcomes


INDEX_LENGTH = 1000
QUEUED = "queued"
T = TypeVar("T")


def declare(url: str, topology: topo.Topology, event_id: str, expires_ms: int) -> None:
    """The exchanges and this broadcast's results queue (idempotent).

    The consumer's own queues are left to the consumer (or ``omero-mail declare``): their
    arguments depend on how it is deployed, and a mismatch would be refused.
    """
    name = topo.broadcast_queue(event_id)
    declare_topology(url, dataclasses.replace(
        topology,
        queues=(topo.Queue(name, {"x-expires": expires_ms}),
                topo.Queue(topo.BROADCASTS_QUEUE, {"x-max-length": INDEX_LENGTH})),
        bindings=(topo.Binding(topo.RESULTS_EXCHANGE, name, f"{event_id}.#"),
                  topo.Binding(topo.RESULTS_EXCHANGE, topo.BROADCASTS_QUEUE, topo.result_key("*", QUEUED))),
    ))


def queued(event_id: str, **fields) -> Message:
    """The first outcome of every broadcast, published before the event; ``fields`` say what the
    broadcasts page lists (subject, requested_by, recipients, the cc and bcc counts)."""
    return outcomes.result(event_id, QUEUED, **fields)


def find(url: str, given: str) -> list[str]:
    """The broadcasts whose ID is ``given`` or starts with it, and whose outcomes are still kept."""
    given = given.strip().lower()
    if not given:
        return []
    with QueueBrowser(url, topo.BROADCASTS_QUEUE, name="omero-mail broadcast status") as browser:
        ids = {str(_body(parked.body).get("event_id") or "") for parked in browser.messages()}
    candidates = {event_id for event_id in ids if event_id.startswith(given)} | {given}
    # Whether its queue exists, not how many it holds now: another reader may be reading them.
    kept = existing_queues(url, [topo.broadcast_queue(event_id) for event_id in sorted(candidates)])
    return [event_id for event_id in sorted(candidates) if topo.broadcast_queue(event_id) in kept]


def _body(body: bytes) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Tally:
    """What is known of one broadcast so far."""

    planned: dict | None = None
    sent: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    retrying: set[str] = field(default_factory=set)
    #: Why the rules stage refused the broadcast (it is parked in omero.mail.invalid).
    refused: str | None = None
    #: The broadcast's ``queued`` outcome: its subject, requester and recipients.
    queued: dict | None = None
    #: Each email's recipient, by Message-ID, in the order their outcomes came.
    recipients: dict[str, str] = field(default_factory=dict)
    #: The last failure of each email that failed or waits for a retry: (attempts, the SMTP reply).
    replies: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, result: dict) -> None:
        outcome = result.get("outcome")
        mail = str(result.get("message_id") or "")
        if outcome in (outcomes.SENT, outcomes.FAILED, outcomes.RETRYING) and result.get("recipient"):
            self.recipients.setdefault(mail, str(result["recipient"]))
        if outcome in (outcomes.FAILED, outcomes.RETRYING):
            self.replies[mail] = (_whole(result.get("attempts")), str(result.get("error") or ""))
        if outcome == outcomes.INVALID:
            self.refused = str(result.get("reason") or "refused")
        elif outcome == outcomes.PLANNED:
            self.planned = result
        elif outcome == QUEUED:
            self.queued = result
        elif outcome == outcomes.SENT:
            self.sent.add(mail)
        elif outcome == outcomes.FAILED:
            self.failed.add(mail)
        elif outcome == outcomes.RETRYING:
            self.retrying.add(mail)

    @property
    def total(self) -> int:
        return int(self.planned.get("total", 0)) if self.planned else 0

    @property
    def failed_only(self) -> set[str]:
        return self.failed - self.sent

    @property
    def waiting_retry(self) -> set[str]:
        """Emails not sent nor failed yet, whose last attempt was answered by a retry."""
        return self.retrying - self.sent - self.failed

    @property
    def done(self) -> int:
        # The union's size without building it: ``sent`` may hold 20,000 IDs, read at every poll.
        return len(self.sent) + len(self.failed_only)

    @property
    def finished(self) -> bool:
        return self.refused is not None or (self.planned is not None and self.done >= self.total)

    def summary(self) -> list[str]:
        """OMERO's summary lines with OMERO's meanings, then ours for what OMERO could not know.

        omero-py admin.py ``email`` prints ``rsp.success`` of ``rsp.total``,
        ``len(rsp.invalidusers)`` and ``len(rsp.invalidemails)``; SendEmailRequestI counts
        in ``invalidemails`` the invalid extra addresses and every address whose sending
        failed. ``success`` here counts emails the server accepted (OMERO counts attempts).
        """
        if self.refused is not None:
            return [f"Refused, nothing sent: {self.refused} (parked in omero.mail.invalid)"]
        if self.planned is None:
            return ["Not planned yet: no consumer has taken the broadcast (or it was refused: "
                    "see omero.mail.invalid)"]
        lines = [f"Successfully sent {len(self.sent)} of {self.total} emails"]
        no_email = int(self.planned.get("no_email", 0))
        invalid = int(self.planned.get("invalid", 0)) + len(self.failed_only)
        if no_email:
            lines.append(f"{no_email} users had no email address")
        if invalid:
            lines.append(f"{invalid} email addresses were invalid")
        if self.failed_only:
            lines.append(f"{len(self.failed_only)} emails failed (omero-mail failed list shows why)")
        pending = self.total - self.done
        if pending > 0:
            retrying = len(self.waiting_retry)
            waiting = f" ({retrying} waiting to be retried)" if retrying else ""
            lines.append(f"{pending} emails not sent yet{waiting}")
        return lines


class _Following:
    """A :class:`Follower` on a thread of its own: what :class:`Reader` and :class:`Recent` share."""

    def __init__(self, follower: Follower, thread_name: str):
        self._follower = follower
        self._thread = threading.Thread(target=follower.run, name=thread_name, daemon=True)

    @property
    def error(self) -> str | None:
        """Why the queue cannot be followed (RabbitMQ refused), or None."""
        return self._follower.error

    def start(self, timeout: float = 10.0) -> bool:
        """Start following; False if the queue could not be followed within ``timeout``."""
        self._thread.start()
        return self._follower.following.wait(timeout)

    def stop(self) -> None:
        self._follower.stop()
        self._thread.join(10)


class Reader(_Following):
    """Follow one broadcast's outcomes without taking or holding anything of its results queue."""

    def __init__(self, url: str, event_id: str, gather: float = 0.0):
        """``gather``: seconds between reads of what came (``events.broker.Follower``); 0 wakes for each."""
        self.tally = Tally()
        self._lock = threading.Lock()
        self._seen: set[tuple] = set()
        super().__init__(Follower(url, topo.broadcast_queue(event_id), topo.RESULTS_EXCHANGE, f"{event_id}.#",
                                  self._on_body, name="omero-mail broadcast results", gather=gather),
                         "broadcast-results")

    def _on_body(self, body: bytes) -> None:
        try:
            result = json.loads(body)
        except ValueError:
            return
        # An outcome read from the kept queue may come again through the follower's own: count it once.
        with self._lock:
            for each in outcomes.emails_of(result):
                key = (each.get("outcome"), each.get("message_id"), each.get("attempts"), each.get("at"))
                if key not in self._seen:
                    self._seen.add(key)
                    self.tally.add(each)

    def snapshot(self) -> Tally:
        with self._lock:
            return dataclasses.replace(self.tally, sent=set(self.tally.sent), failed=set(self.tally.failed),
                                       retrying=set(self.tally.retrying), recipients=dict(self.tally.recipients),
                                       replies=dict(self.tally.replies))

    def view(self, read: Callable[[Tally], T]) -> T:
        """``read(tally)`` while no outcome is added: what a page shows, without copying the tally."""
        with self._lock:
            return read(self.tally)


@dataclass(frozen=True)
class Listed:
    """A broadcast of ``omero.mail.broadcasts``, from its ``queued`` outcome ("" or 0 where an old one is silent)."""

    event_id: str
    at: str = ""
    subject: str = ""
    requested_by: str = ""
    recipients: str = ""
    cc: int = 0
    bcc: int = 0

    @classmethod
    def of(cls, body: bytes) -> "Listed | None":
        found = _body(body)
        event_id = found.get("event_id")
        if found.get("outcome") != QUEUED or not isinstance(event_id, str) or not event_id:
            return None
        text = {key: str(found.get(key) or "") for key in ("at", "subject", "requested_by", "recipients")}
        return cls(event_id, **text, cc=_whole(found.get("cc")), bcc=_whole(found.get("bcc")))


class Recent(_Following):
    """The last :data:`INDEX_LENGTH` broadcasts, followed from ``omero.mail.broadcasts`` as they are queued.

    Read whole once (a second or so for 1,000), then kept up to date from a queue of its own,
    as :class:`Reader` follows one broadcast: a page lists them from memory.
    """

    def __init__(self, url: str):
        self._listed: dict[str, Listed] = {}
        self._lock = threading.Lock()
        super().__init__(Follower(url, topo.BROADCASTS_QUEUE, topo.RESULTS_EXCHANGE, topo.result_key("*", QUEUED),
                                  self._on_body, name="omero-mail broadcasts"),
                         "broadcasts-index")

    def _on_body(self, body: bytes) -> None:
        listed = Listed.of(body)
        if listed is None:
            return
        with self._lock:
            # Queued again under its ID (after an uncertain publish), a broadcast is listed once, where it was.
            self._listed.setdefault(listed.event_id, listed)
            while len(self._listed) > INDEX_LENGTH:
                del self._listed[next(iter(self._listed))]

    def newest(self, start: int, count: int) -> tuple[list[Listed], int]:
        """``count`` broadcasts from the ``start``-th newest, and how many there are."""
        with self._lock:
            listed = list(self._listed.values())
        listed.reverse()
        return listed[start:start + count], len(listed)


def _whole(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def read_all(url: str, event_id: str) -> Tally:
    """Everything the results queue holds now (for ``broadcast status``); nothing is taken off it."""
    tally = Tally()
    with QueueBrowser(url, topo.broadcast_queue(event_id), name="omero-mail broadcast status") as browser:
        for parked in browser.messages():
            try:
                report = json.loads(parked.body)
            except ValueError:
                continue
            for each in outcomes.emails_of(report):
                tally.add(each)
    return tally
