"""What became of one message, as plain values, and the messages that report it.

A stage turns each message it consumes into one outcome value (:class:`Sent`,
:class:`Retry`, :class:`Parked`, ...); ``consumer/stages/worker.py`` alone turns that value
into logs, metrics, published copies and reports, and the ack or nack.

Parked messages (``omero.mail.invalid``, ``omero.mail.failed``) keep the original body
and say why in ``x-omero-mail-*`` headers, which is what ``omero-mail failed`` lists.
Outcomes go to the ``omero.mail.results`` exchange (routing key ``<event id>.<outcome>``)
for progress bars and audit; nobody has to listen. An event's ``planned`` and its emails'
``sent`` are published only while a queue takes them (``consumer/stages/listeners.py``), but
always for a broadcast, which its command follows by name; the rules stage tells the
delivery stage which in the outbox header :data:`REPORT`. Retries, failures and refusals
are always published.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator, Mapping

from events import topology as topo
from events.broker import Message
from events.schemas import Event
from senders.mail import Mail
from senders.plan import Plan

REASON = "x-omero-mail-reason"
ATTEMPTS = "x-omero-mail-attempts"
FIRST_ATTEMPT = "x-omero-mail-first-attempt"
LAST_ATTEMPT = "x-omero-mail-last-attempt"
PARKED_AT = "x-omero-mail-parked-at"
FROM_QUEUE = "x-omero-mail-queue"
ROUTING_KEY = "x-omero-mail-routing-key"
EVENT_ID = "x-omero-mail-event-id"
SENDER = "x-omero-mail-sender"
RECIPIENT = "x-omero-mail-recipient"
#: Envelope recipients still owed the mail (after a partial refusal); absent = all of them.
RECIPIENTS = "x-omero-mail-recipients"
#: On an outbox message: :data:`REPORT_ALWAYS` (an event followed by name: its ``sent`` always
#: published) or :data:`REPORT_IF_HEARD` (while a queue takes it, consumer/stages/listeners.py).
REPORT = "x-omero-mail-report"
REPORT_ALWAYS, REPORT_IF_HEARD = "always", "if-heard"
#: Event types followed by name: their command binds their results queue before publishing them.
FOLLOWED_TYPES = frozenset({"admin.broadcast"})
#: When the replay tool put a parked message back.
REPLAYED_AT = "x-omero-mail-replayed-at"
#: On a parked copy: the stage refused the message because of its publisher (the value: that
#: broker user, empty if it set none). Written only by the stages, whose broker users publish
#: the parked copies; the replay tool never turns such a message into mail unless an admin
#: names it (consumer/admin/parking.py).
UNTRUSTED = "x-omero-mail-untrusted"
#: Headers RabbitMQ adds on dead-lettering; a message we publish again starts without them.
DEAD_LETTER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                       "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")

SENT, RETRYING, FAILED, SKIPPED, PLANNED, INVALID = "sent", "retrying", "failed", "skipped", "planned", "invalid"


@dataclass(frozen=True)
class Sent:
    """The transport accepted the email for every recipient still owed it."""

    mail: Mail
    attempts: int


@dataclass(frozen=True)
class Retry:
    """Send again to ``recipients`` after ``delay_ms``, by way of that retry tier."""

    delay_ms: int
    reason: str
    mail: Mail
    attempts: int
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Parked:
    """Moved to the parking lot ``queue`` with the reason.

    ``omero.mail.invalid`` takes events; ``omero.mail.failed`` takes emails, with the
    email when it could be read, the attempt count and the recipients still owed it.
    """

    queue: str
    reason: str
    mail: Mail | None = None
    attempts: int = 1
    recipients: tuple[str, ...] | None = None
    #: Refused because of its publisher: that broker user ("" if it set none); None = not for that.
    untrusted: str | None = None


@dataclass(frozen=True)
class PartlySent:
    """Accepted for some recipients; each refused one is retried or parked."""

    mail: Mail
    refused: tuple[Retry | Parked, ...]


@dataclass(frozen=True)
class Planned:
    """An event's outbox messages (one per email of the plan), built and published
    ``slice_size`` at a time, each slice once the one before is confirmed."""

    event: Event
    plan: Plan
    messages: Iterator[Message]
    slice_size: int
    #: Whether the event's ``planned`` outcome is published, and whether the event is followed by
    #: name (:data:`FOLLOWED_TYPES`; if not, what becomes of that outcome tells consumer/stages/listeners.py).
    report: bool = True
    followed: bool = False


@dataclass(frozen=True)
class Folded:
    """An event folded into a flood digest (``consumer/memory/flood.py``): no email of its own."""

    event: Event
    plan: Plan
    report: bool = True
    followed: bool = False


@dataclass(frozen=True)
class Requeue:
    """Back to its queue, to be tried again (a crash not yet counted ``limit`` times)."""


Outcome = Sent | Retry | Parked | PartlySent | Planned | Folded | Requeue


def followed(headers: Mapping) -> bool:
    """Whether an outbox message's event is followed by name; one from before :data:`REPORT` is taken as followed."""
    return headers.get(REPORT) != REPORT_IF_HEARD


def this_attempt(headers: Mapping) -> int:
    """1 for a message fresh from the rules stage, one more for each retry tier it came back from.

    A count that is not a whole number (a hand-made message) counts as none: this is read on
    the way to the parking lot too, which must never fail on what a message carries.
    """
    try:
        return max(0, int(headers.get(ATTEMPTS, 0))) + 1
    except (TypeError, ValueError):
        return 1


def attempt_headers(headers: Mapping, attempts: int, reason: str, recipients: tuple[str, ...] | None) -> dict:
    """An outbox message's headers for its next stop: how often, since when, why, and to whom."""
    headers = {k: v for k, v in headers.items() if k not in DEAD_LETTER_HEADERS}
    now = now_iso()
    headers.setdefault(FIRST_ATTEMPT, now)
    headers[LAST_ATTEMPT] = now
    headers[ATTEMPTS] = attempts
    headers[REASON] = one_line(reason)
    if recipients is not None:
        headers[RECIPIENTS] = list(recipients)
    return headers


def with_verdict(headers: dict, untrusted: str | None) -> dict:
    """A parked copy's headers with the stage's own verdict on its publisher, and no one else's."""
    headers = {k: v for k, v in headers.items() if k != UNTRUSTED}
    if untrusted is not None:
        headers[UNTRUSTED] = untrusted
    return headers


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def one_line(text: str, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def parked(body: bytes, message_id: str, routing_key: str, headers: dict, reason: str,
           content_type: str = "application/json") -> Message:
    """A copy of a message for the parking lot, with why and when.

    A message that came without an id gets its event's, else a fresh one: every parked
    message can be picked by the start of its id.
    """
    return Message(
        exchange=topo.MAIL_EXCHANGE,
        routing_key=routing_key,
        body=body,
        message_id=message_id or event_id_of(body) or str(uuid.uuid4()),
        headers={**headers, REASON: one_line(reason), PARKED_AT: now_iso()},
        content_type=content_type or "application/json",
    )


def event_id_of(body: bytes) -> str:
    """The ``id`` of an event body that may be invalid; empty when there is none to use."""
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return value if isinstance(value, str) and value.isprintable() and 0 < len(value) <= 64 else ""


def sent_entry(mail: Mail, attempts: int) -> dict:
    """One email of a ``sent`` report."""
    return {"message_id": mail.message_id, "sender": mail.sender, "recipient": mail.to, "attempts": attempts}


def sent_report(event_id: str, entries: list[dict], mandatory: bool = False) -> Message:
    """The ``sent`` outcome of one email (its fields in the body, as always), or of several
    (``emails``: a list of those fields; consumer/stages/sent_reports.py)."""
    if len(entries) == 1:
        return result(event_id, SENT, mandatory=mandatory, **entries[0])
    return result(event_id, SENT, mandatory=mandatory, emails=entries)


def emails_of(report: dict) -> list[dict]:
    """Each email's own outcome in a report: itself, or each of its ``emails`` with the report's fields."""
    if not isinstance(report, dict):
        return []
    listed = report.get("emails")
    if not isinstance(listed, list):
        return [report]
    shared = {key: value for key, value in report.items() if key != "emails"}
    return [{**shared, **each} for each in listed if isinstance(each, dict)]


def result(event_id: str, outcome: str, mandatory: bool = False, **fields) -> Message:
    """An outcome for omero.mail.results; ``mandatory``: returned by RabbitMQ if no queue takes it."""
    body = {"event_id": event_id, "outcome": outcome, "at": now_iso(), **fields}
    return Message(
        exchange=topo.RESULTS_EXCHANGE,
        routing_key=topo.result_key(event_id, outcome),
        body=json.dumps(body, ensure_ascii=False).encode(),
        message_id=f"{event_id}.{outcome}.{time.time_ns()}",
        mandatory=mandatory,
    )
