"""The parking lots, ``omero.mail.failed`` and ``omero.mail.invalid``: read, choose, replay, purge.

What ``omero-mail failed`` and ``omero-mail invalid`` do, and the web app's parking pages
with them, without a command line or a page: an :class:`Entry` per parked message (who,
what, why, how often, and whether its publisher was trusted), a :class:`Filter`, the
:class:`Choice` of what a replay or purge acts on, the copy a replay publishes and the
email a failed one becomes (:func:`as_sent`). ``attendant.py`` reads and acts with the
commands' broker login; the broker side is :class:`events.broker.QueueBrowser`: reading
gives back everything at once, acting holds only the chosen messages and acks one only
once its copy is confirmed, so an interrupted replay loses nothing and a second run
duplicates nothing.

Refused stays refused. A stage that refuses a message because of its publisher
(``consumer/access/trust.py``) parks it with the header ``x-omero-mail-untrusted``; with the
publishers checked, a parked copy that no stage's broker user published is untrusted
too, since nobody checked it. Neither is ever replayed into mail, by a filter or by
replaying everything: only when an admin names it (:attr:`Choice.vouched`), and the copy
is then published as the admin's broker user, who vouches for it (logged at WARNING).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Sequence

from events import topology as topo
from events.broker import Message, Parked, QueueBrowser
from events.values import parse_duration_ms
from senders.mail import Mail
from senders.message import UnsafeMail, build
from senders.transports import Envelope

from .. import outcomes
from ..access.roles import REPLAYED_EVENTS
from ..access.trust import Trust

log = logging.getLogger(__name__)

#: Our bookkeeping of one stay in the parking lot; a replayed message starts afresh.
_STAY_HEADERS = frozenset({outcomes.REASON, outcomes.ATTEMPTS, outcomes.FIRST_ATTEMPT, outcomes.LAST_ATTEMPT,
                           outcomes.PARKED_AT, outcomes.FROM_QUEUE, outcomes.ROUTING_KEY, outcomes.UNTRUSTED,
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
    #: Why its publisher is not trusted ("" when it is): never replayed into mail unless named.
    untrusted: str = ""

    @property
    def verdict(self) -> str:
        return "untrusted" if self.untrusted else ""

    def as_dict(self) -> dict:
        headers = self.parked.headers
        return {
            "id": self.id, "message_id": self.parked.message_id, "when": self.when, "sender": self.sender,
            "recipient": self.recipient, "subject": self.subject, "attempts": self.attempts, "error": self.error,
            "untrusted": self.untrusted, "published_by": self.parked.user_id,
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


def distrust(parked: Parked, trust: Trust) -> str:
    """Why a parked message's publisher is not trusted, or "": the refusing stage's verdict, kept
    whatever the checks are now; with the checks on, a copy no stage published (so nobody checked)."""
    if outcomes.UNTRUSTED in parked.headers:
        return f"published by broker user {_text(parked.headers[outcomes.UNTRUSTED])!r}, refused by the stage"
    if trust.checked and parked.user_id not in (trust.rules_user, trust.delivery_user):
        return f"parked by broker user {parked.user_id!r}, not a stage: its publisher was never checked"
    return ""


#: The development default: nothing checked, so only a stage's own verdict marks a message untrusted.
UNCHECKED = Trust()


def entry(parked: Parked, trust: Trust = UNCHECKED) -> Entry:
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
        untrusted=distrust(parked, trust),
    )


def replayed_headers(parked: Parked) -> dict:
    """Attempt count and parking notes reset; Message-ID, event and owed recipients kept."""
    headers = {k: v for k, v in parked.headers.items() if k not in _STAY_HEADERS}
    headers[outcomes.REPLAYED_AT] = outcomes.now_iso()
    return headers


def replay_to_outbox(parked: Parked) -> Message:
    return Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, parked.body, parked.message_id,
                   replayed_headers(parked), parked.content_type)


def replay_key(parked: Parked) -> str:
    """The routing key an invalid event is put back with: the one it was first published with;
    for an event a stage refused (replayed only when an admin vouches for it), its own type."""
    event_type = str(_body(parked).get("type") or "")
    if outcomes.UNTRUSTED in parked.headers:
        return event_type
    return routing_key(parked) or event_type


def replay_to_events(parked: Parked) -> Message:
    return Message(topo.EVENTS_EXCHANGE, replay_key(parked), parked.body, parked.message_id, replayed_headers(parked),
                   parked.content_type)


def as_sent(parked: Parked) -> Envelope:
    """The email a parked mail becomes once replayed, built as the delivery stage builds it
    (``consumer/stages/delivery.py``): to the recipients still owed, else to the mail's own.
    ValueError, one line, when it cannot be built: the delivery stage would park it again."""
    try:
        mail = Mail.from_json(parked.body)
        recipients = tuple(_text(r) for r in parked.headers.get(outcomes.RECIPIENTS) or mail.recipients)
        return Envelope(mail.mail_from_address, recipients, build(mail), mail.message_id)
    except (ValueError, TypeError, KeyError, UnsafeMail) as exc:
        raise ValueError(f"cannot build the message: {exc}") from None


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


class Refused(ValueError):
    """What an admin asked for cannot be done as asked; nothing was done. The message is one line."""


def named(entries: Sequence[Entry], given: str) -> list[Entry]:
    """The entries whose id is ``given`` or starts with it (``<...>`` optional)."""
    start = given.strip().strip("<>")
    return [item for item in entries if item.id.startswith(start)] if start else []


@dataclass(frozen=True)
class Filter:
    """Which parked messages a command acts on besides those named by id; empty = no filter."""

    sender: str = ""
    recipient: str = ""
    since: datetime | None = None
    error: str = ""

    def __bool__(self) -> bool:
        return bool(self.sender or self.recipient or self.since is not None or self.error)

    def matches(self, item: Entry) -> bool:
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


@dataclass
class Choice:
    """What a replay or purge acts on, and what it leaves (with why), decided before anything is taken."""

    lot: "Lot"
    acted: list[Entry] = field(default_factory=list)
    #: Untrusted messages an admin named with ``--untrusted``: replayed as the admin's broker user.
    vouched: list[Entry] = field(default_factory=list)
    #: Matched by a filter (or by "all") but not replayed: untrusted, or not the replay role's to put back.
    left: list[tuple[Entry, str]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [item.parked.key for item in self.acted]


def choose(lot: "Lot", entries: Sequence[Entry], ids: Sequence[str] = (), chosen: Filter | None = None, *,
           keys: Sequence[str] = (), all_matching: bool = False, replaying: bool = False,
           vouched_ids: Sequence[str] = (), checked: bool = False) -> Choice:
    """The messages named by ``ids`` (each, or its start) or by ``keys`` (:attr:`Parked.key`,
    exactly: the web app's check boxes) and matching ``chosen``; without ids, keys, filters or
    ``vouched_ids``, every message.

    :class:`Refused` for an id or key that names nothing, an id that is the start of several
    ids unless each of those is also named alone or ``all_matching``, and (``replaying``) a
    named message that replay must leave. A replay leaves what a filter matched but may not
    be replayed: an untrusted message, unless named in ``vouched_ids``; and, with the
    publishers ``checked``, an invalid event the replay role may not publish (a broadcast is
    sent again by its admin).
    """
    chosen = chosen or Filter()
    by_ids = _named_by(lot, entries, ids, all_matching, "name each of them, or add --all-matching")
    for item in _keyed(lot, entries, keys):
        if not _among(item, by_ids):
            by_ids.append(item)
    named_some = bool(ids or keys)
    vouched = _named_by(lot, entries, vouched_ids, False, "--untrusted vouches for one message: give more of the id")
    picked = [item for item in (by_ids if named_some else entries) if chosen.matches(item)]
    if vouched_ids and not named_some and not chosen:
        picked = []
    choice = Choice(lot)
    for item in picked:
        why = _left_by_replay(lot, item, checked) if replaying and not _among(item, vouched) else ""
        if why and named_some:
            raise Refused(f"{item.id} {why}; nothing done")
        if why:
            choice.left.append((item, why))
        else:
            choice.acted.append(item)
    for item in vouched:
        why = _not_replayable(lot, item, checked)
        if why:
            raise Refused(f"{item.id} {why}; nothing done")
        if not _among(item, choice.acted):
            choice.acted.append(item)
        if item.untrusted:
            choice.vouched.append(item)
    return choice


def _named_by(lot: "Lot", entries: Sequence[Entry], ids: Sequence[str], all_matching: bool,
              several: str) -> list[Entry]:
    """The entries ``ids`` name; :class:`Refused` (saying ``several``) for an id that is the start of several."""
    found = {given: named(entries, given) for given in ids}
    unknown = [given for given, items in found.items() if not items]
    if unknown:
        raise Refused(f"no message {unknown[0]!r} in {lot.queue}" + (
            f" (nor {len(unknown) - 1} other id(s) given)" if len(unknown) > 1 else "") + "; nothing done")
    alone = {id(items[0]) for items in found.values() if len(items) == 1}
    for given, items in found.items():
        if len(items) > 1 and not all_matching and not all(id(item) in alone for item in items):
            raise Refused(f"{given!r} matches {len(items)} messages in {lot.queue} "
                          f"({', '.join(sorted({item.id for item in items}))}): {several}; nothing done")
    picked: list[Entry] = []
    for items in found.values():
        picked.extend(item for item in items if not _among(item, picked))
    return picked


def _keyed(lot: "Lot", entries: Sequence[Entry], keys: Sequence[str]) -> list[Entry]:
    """The entries with these keys (alike copies share one key, and are all named by it)."""
    by_key: dict[str, list[Entry]] = {}
    for item in entries:
        by_key.setdefault(item.parked.key, []).append(item)
    missing = [key for key in keys if key not in by_key]
    if missing:
        raise Refused(f"{len(missing)} of the chosen message(s) are no longer in {lot.queue} (replayed or "
                      "purged meanwhile); nothing done")
    return [item for key in dict.fromkeys(keys) for item in by_key[key]]


def _among(item: Entry, entries: Sequence[Entry]) -> bool:
    """The same parked message (two alike copies are two messages)."""
    return any(item is other for other in entries)


def _left_by_replay(lot: "Lot", item: Entry, checked: bool) -> str:
    if item.untrusted:
        return (f"is untrusted ({item.untrusted}): it is replayed only when named with "
                f"omero-mail {lot.name} replay --untrusted {item.id}")
    return _not_replayable(lot, item, checked)


def _not_replayable(lot: "Lot", item: Entry, checked: bool) -> str:
    """Why the replay role may not put this event back (with the publishers checked), or ""."""
    if lot is not INVALID or not checked:
        return ""
    key = replay_key(item.parked)
    if key in REPLAYED_EVENTS:
        return ""
    if key == "admin.broadcast":
        return ("is a broadcast, trusted only from a broker user allowed to broadcast as its admin: the admin "
                f"sends it again with omero-mail broadcast ... --id {outcomes.event_id_of(item.parked.body)}")
    return f"has routing key {key!r}, which the replay role may not publish"


def replay(browser: QueueBrowser, choice: Choice, held: Sequence[Parked], advance: Callable[[], None]) -> int:
    """Move each held message back where it came from: its copy confirmed first, then it is acked."""
    vouched = {item.parked.key: item for item in choice.vouched}
    for parked in held:
        item = vouched.get(parked.key)
        if item is not None:
            log.warning("replaying untrusted message %s (%s) as broker user %r, who vouches for it", item.id,
                        item.untrusted, browser.user)
        browser.move(parked, choice.lot.replay(parked))
        advance()
    return len(held)


def purge(browser: QueueBrowser, held: Sequence[Parked], advance: Callable[[], None]) -> int:
    for parked in held:
        browser.remove(parked)
        advance()
    return len(held)
