"""The messages the stages publish besides emails: parked messages and outcome reports.

Parked messages (``omero.mail.invalid``, ``omero.mail.failed``) keep the original body
and say why in ``x-omero-mail-*`` headers, which is what ``omero-mail failed`` lists.
Outcomes go to the ``omero.mail.results`` exchange (routing key ``<event id>.<outcome>``)
for progress bars and audit; nobody has to listen.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
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
#: When the replay tool put a parked message back.
REPLAYED_AT = "x-omero-mail-replayed-at"
#: Headers RabbitMQ adds on dead-lettering; a message we publish again starts without them.
DEAD_LETTER_HEADERS = ("x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
                       "x-last-death-exchange", "x-last-death-queue", "x-last-death-reason", "x-delivery-count")

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


def event_id_of(body: bytes) -> str:
    """The ``id`` of an event body that may be invalid; empty when there is none to use."""
    try:
        value = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) and value.isprintable() and 0 < len(value) <= 64 else ""


def result(event_id: str, outcome: str, **fields) -> Message:
    body = {"event_id": event_id, "outcome": outcome, "at": now_iso(), **fields}
    return Message(
        exchange=topo.RESULTS_EXCHANGE,
        routing_key=topo.result_key(event_id, outcome),
        body=json.dumps(body, ensure_ascii=False).encode(),
        message_id=f"{event_id}.{outcome}.{time.time_ns()}",
        mandatory=False,
    )


class Crashes:
    """How often each message has crashed its handler, so a poison message is parked.

    Classic queues keep no delivery count, and a message returned to its queue after a
    crash comes straight back: counted here by message id, it is parked after ``limit``
    crashes instead of looping forever. Quorum queues count too (``x-delivery-limit``),
    which also covers a message that kills the whole process.
    """

    def __init__(self, limit: int = 5, remember: int = 10_000):
        self.limit = max(1, limit)
        self.remember = remember
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, message_id: str | None, body: bytes) -> bool:
        """Count one crash; True when the message has now crashed ``limit`` times."""
        key = message_id or hashlib.sha256(body).hexdigest()
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            if count >= self.limit:
                return True
            self._counts[key] = count
            while len(self._counts) > self.remember:
                self._counts.popitem(last=False)
            return False
