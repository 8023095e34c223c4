"""The messages the stages publish besides emails: parked messages and outcome reports.

Parked messages (``omero.mail.invalid``, ``omero.mail.failed``) keep the original body
and say why in ``x-omero-mail-*`` headers, which is what ``omero-mail failed`` lists.
Outcomes go to the ``omero.mail.results`` exchange (routing key ``<event id>.<outcome>``)
for progress bars and audit; nobody has to listen.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from events import topology as topo
from events.broker import Message

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

SENT, RETRYING, FAILED, SKIPPED, PLANNED, INVALID = "sent", "retrying", "failed", "skipped", "planned", "invalid"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def one_line(text: str, limit: int = 500) -> str:
    return " ".join(str(text).split())[:limit]


def parked(body: bytes, message_id: str, routing_key: str, headers: dict, reason: str,
           content_type: str = "application/json") -> Message:
    """A copy of a message for the parking lot, with why and when."""
    return Message(
        exchange=topo.MAIL_EXCHANGE,
        routing_key=routing_key,
        body=body,
        message_id=message_id or f"parked-{time.time_ns()}",
        headers={**headers, REASON: one_line(reason), PARKED_AT: now_iso()},
        content_type=content_type or "application/json",
    )


def result(event_id: str, outcome: str, **fields) -> Message:
    body = {"event_id": event_id, "outcome": outcome, "at": now_iso(), **fields}
    return Message(
        exchange=topo.RESULTS_EXCHANGE,
        routing_key=topo.result_key(event_id, outcome),
        body=json.dumps(body, ensure_ascii=False).encode(),
        message_id=f"{event_id}.{outcome}.{time.time_ns()}",
        mandatory=False,
    )
