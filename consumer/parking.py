"""The parking lots, ``omero.mail.failed`` and ``omero.mail.invalid``: read, filter, replay, purge.

What ``omero-mail failed`` and ``omero-mail invalid`` do, without the command line:
an :class:`Entry` per parked message (who, what, why, how often), a :class:`Filter`,
and the copy a replay publishes. The broker side is :class:`events.broker.QueueBrowser`,
which reads without consuming and acks a message only once its copy is confirmed, so an
interrupted replay loses nothing and a second run duplicates nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Sequence

from events import topology as topo
from events.broker import Message, Parked, QueueBrowser
from events.values import parse_duration_ms

from . import outcomes

#: Our bookkeeping of one stay in the parking lot; a replayed message starts afresh.
_STAY_HEADERS = frozenset({outcomes.REASON, outcomes.ATTEMPTS, outcomes.FIRST_ATTEMPT, outcomes.LAST_ATTEMPT,
                           outcomes.PARKED_AT, outcomes.FROM_QUEUE, outcomes.ROUTING_KEY,
                           *outcomes.DEAD_LETTER_HEADERS})


@dataclass(frozen=True)
class Entry:
    """One parked message as an admin sees it."""

    parked: Parked
    id: str
    when: str
    sender: str
    recipient: str
    subject: str
    attempts: int
    error: str

    def as_dict(self) -> dict:
        headers = self.parked.headers
        return {
            "id": self.id, "message_id": self.parked.message_id, "when": self.when, "sender": self.sender,
            "recipient": self.recipient, "subject": self.subject, "attempts": self.attempts, "error": self.error,
            "event_id": _text(headers.get(outcomes.EVENT_ID)),
            "recipients_owed": [_text(r) for r in headers.get(outcomes.RECIPIENTS) or []],
            "first_attempt": _text(headers.get(outcomes.FIRST_ATTEMPT)),
            "last_attempt": _text(headers.get(outcomes.LAST_ATTEMPT)),
            "routing_key": routing_key(self.parked),
        }


@dataclass(frozen=True)
class Lot:
    """A parking lot: its queue, and where a replayed message goes back to."""

    name: str
    queue: str
    replay: Callable[[Parked], Message]


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _dead_letter_reason(headers: dict) -> str:
    """Why RabbitMQ dead-lettered it (a quorum queue's delivery limit), when we did not park it."""
    deaths = headers.get("x-death") or []
    if deaths:
        death = deaths[0]
        return f"dead-lettered from {_text(death.get('queue'))}: {_text(death.get('reason'))}"
    return ""


def routing_key(parked: Parked) -> str:
    """The routing key an invalid event was first published with."""
    key = _text(parked.headers.get(outcomes.ROUTING_KEY))
    if not key:
        deaths = parked.headers.get("x-death") or []
        keys = deaths[0].get("routing-keys") if deaths else None
        key = _text(keys[0]) if keys else ""
    return key


def _body(parked: Parked) -> dict:
    try:
        value = json.loads(parked.body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def entry(parked: Parked) -> Entry:
    headers = parked.headers
    body = _body(parked)
    is_event = "type" in body and "to" not in body
    return Entry(
        parked=parked,
        id=parked.message_id.strip("<>"),
        when=_text(headers.get(outcomes.PARKED_AT)),
        sender=_text(headers.get(outcomes.SENDER) or body.get("sender") or (routing_key(parked) if is_event else "")),
        recipient=_text(headers.get(outcomes.RECIPIENT) or body.get("to") or ""),
        subject=_text(body.get("subject") or ""),
        attempts=int(headers.get(outcomes.ATTEMPTS) or 0),
        error=_text(headers.get(outcomes.REASON)) or _dead_letter_reason(headers),
    )


def replayed_headers(parked: Parked) -> dict:
    """Attempt count and parking notes reset; Message-ID, event and owed recipients kept."""
    headers = {k: v for k, v in parked.headers.items() if k not in _STAY_HEADERS}
    headers[outcomes.REPLAYED_AT] = outcomes.now_iso()
    return headers


def replay_to_outbox(parked: Parked) -> Message:
    return Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, parked.body, parked.message_id,
                   replayed_headers(parked), parked.content_type)


def replay_to_events(parked: Parked) -> Message:
    key = routing_key(parked) or str(_body(parked).get("type") or "")
    return Message(topo.EVENTS_EXCHANGE, key, parked.body, parked.message_id, replayed_headers(parked),
                   parked.content_type)


FAILED = Lot("failed", topo.FAILED_QUEUE, replay_to_outbox)
INVALID = Lot("invalid", topo.INVALID_QUEUE, replay_to_events)


def parse_since(text: str) -> datetime:
    """``2026-11-23``, ``2026-11-23T10:00``, or an age such as ``30m``, ``2h`` (that long ago)."""
    text = text.strip()
    if re.fullmatch(r"\d+\s*(ms|s|m|h)?", text):
        return datetime.now(timezone.utc) - timedelta(milliseconds=parse_duration_ms(text))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date or an age: {text!r} (use e.g. 2026-11-23T10:00 or 2h)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Filter:
    """Which parked messages a command acts on; empty = all of them."""

    ids: tuple[str, ...] = ()
    sender: str = ""
    recipient: str = ""
    since: datetime | None = None
    error: str = ""

    def matches(self, item: Entry) -> bool:
        if self.ids and not any(item.id.startswith(i.strip("<>")) for i in self.ids):
            return False
        if self.sender and self.sender.lower() != item.sender.lower():
            return False
        if self.recipient and self.recipient.lower() not in item.recipient.lower():
            return False
        if self.error and self.error.lower() not in item.error.lower():
            return False
        if self.since is not None:
            try:
                if datetime.fromisoformat(item.when) < self.since:
                    return False
            except ValueError:
                return False
        return True


def select(entries: Iterable[Entry], chosen: Filter) -> list[Entry]:
    return [item for item in entries if chosen.matches(item)]


def replay(browser: QueueBrowser, lot: Lot, entries: Sequence[Entry], advance: Callable[[], None]) -> int:
    """Move each entry back where it came from: its copy confirmed first, then it is acked."""
    for item in entries:
        browser.move(item.parked, lot.replay(item.parked))
        advance()
    return len(entries)


def purge(browser: QueueBrowser, entries: Sequence[Entry], advance: Callable[[], None]) -> int:
    for item in entries:
        browser.remove(item.parked)
        advance()
    return len(entries)
