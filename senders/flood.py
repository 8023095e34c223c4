"""The flood guard: a storm of alike events becomes a few mails and one digest.

OMERO mails the admins once per failed login, so a password-guessing attack on ``root``
floods their inboxes (OMERO has no guard). Here events of one type with the same key
(``login.failed``: the user; ``web.error``: status, path and exception) are counted in
a window that opens with the first of them: the first ``threshold`` are mailed as
usual, the rest are folded, and when the window ends one digest mail per recipient
says how many were folded and from which source addresses.

What it holds is bounded: a window that ended leaves at the next event (within a second)
whether anything folded or not (one that folded owes its digest until handed out), and it
holds at most :data:`MOST_WINDOWS` windows. A web server scanned for 100,000 missing pages
makes a key per path; past the bound an event of a new key is mailed as OMERO would mail it
(counted in :attr:`FloodGuard.unguarded`), never dropped.

Pure logic with an injectable clock; the rules stage feeds it events and publishes the
digests it hands back (see ``consumer/stages/rules.py``). Each change to a window can be
written down (:func:`change`) and applied by another guard (:meth:`FloodGuard.restore`):
that is how a rules stage taking over from one that crashed carries on its counts
(``consumer/memory/state.py``). With the wall clock, the times in a change mean the same to both.
A guard can also be set back to a :meth:`FloodGuard.mark` (:meth:`FloodGuard.rewind`) and
rebuilt from the changes written since, its own among them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from events.schemas import Event
from events.settings import FloodOverride, FloodSettings

from .mail import Mail, message_id
from .plan import domain_of

#: The data fields that make two events "the same" for the guard, per event type.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "login.failed": ("user",),
    "web.error": ("status", "path", "exception"),
}
#: How many source addresses a digest lists by name; the rest are counted.
MAX_SOURCES_SHOWN = 50
#: Windows held at most (open, or owing a digest): about 500 bytes each (more with long keys),
#: plus, in a window that folded, the mails of its last folded event (whom its digest goes to).
MOST_WINDOWS = 10_000
#: Seconds between two sweeps of the windows that ended.
SWEEP_SECONDS = 1.0
_NAMESPACE = uuid.UUID("5d7f8a52-51c3-4d2e-9a40-6f0c1f3e2b91")


@dataclass(frozen=True)
class FloodRule:
    """How one event type is guarded. ``threshold`` 0 turns the guard off for it."""

    key_fields: tuple[str, ...]
    window: float
    threshold: int


@dataclass
class Window:
    """The events of one key since its window opened."""

    event_type: str
    key: tuple[str, ...]
    rule: FloodRule
    opened: float
    mailed: int = 0
    folded: int = 0
    sources: Counter = field(default_factory=Counter)
    first_folded: str = ""
    last_folded: str = ""
    first_event_id: str = ""
    #: The mails of the last folded event: whom the digest goes to, and its subject.
    mails: list[Mail] = field(default_factory=list)
    #: Set when publishing the digest failed: when to try again.
    retry_at: float | None = None

    @property
    def due(self) -> float:
        return self.retry_at if self.retry_at is not None else self.opened + self.rule.window

    @property
    def digest_id(self) -> str:
        """Stable per window, so a digest published twice keeps one Message-ID."""
        return str(uuid.uuid5(_NAMESPACE, "\0".join((self.event_type, *self.key, self.first_event_id))))

    def describe_key(self) -> str:
        # Not strict: a window restored from the state stream keeps the key it was opened
        # with, and the site may have changed the rule's key fields since.
        return ", ".join(f"{name}={value}" for name, value in zip(self.rule.key_fields, self.key, strict=False))

    def fold(self, event_id: str, source: str, when: str, mails: list[Mail]) -> None:
        self.folded += 1
        self.sources[source] += 1
        if not self.first_event_id:
            self.first_event_id = event_id
            self.first_folded = when
        self.last_folded = when
        if mails:
            self.mails = mails


def change(window: Window, event: Event, folded: bool) -> dict:
    """What admitting ``event`` did to its window, as JSON-ready data for :meth:`FloodGuard.restore`.

    The recipients of the digest (the mails) are written with the first folded event only.
    """
    data = {"type": window.event_type, "key": list(window.key), "opened": window.opened, "folded": folded}
    if folded:
        data.update(id=event.id, source=_source(event), when=_when(event))
        if window.folded == 1:
            data["mails"] = [json.loads(mail.to_json()) for mail in window.mails]
    return data


def _source(event: Event) -> str:
    return str(event.data.get("remote_addr") or "unknown")


def _when(event: Event) -> str:
    return event.occurred_at.isoformat(timespec="seconds")


class FloodGuard:
    """Counts alike events per window; :meth:`admit` says whether to mail this one."""

    def __init__(self, rules: Mapping[str, FloodRule], clock: Callable[[], float] = time.monotonic,
                 most: int = MOST_WINDOWS):
        self.rules = {kind: rule for kind, rule in rules.items() if rule.threshold > 0 and rule.window > 0}
        self.clock = clock
        self.most = max(1, most)
        self._open: dict[tuple[str, tuple[str, ...]], Window] = {}
        #: Ended windows whose digest is still to be sent.
        self._owed: list[Window] = []
        self._swept = float("-inf")
        self._marked: tuple[dict[tuple[str, tuple[str, ...]], Window], list[Window]] = ({}, [])
        #: Events mailed one by one because no window was left for their key.
        self.unguarded = 0
        #: Told of each of those events.
        self.on_full: Callable[[Event], None] = lambda event: None

    def __len__(self) -> int:
        """Windows held: open, or owing a digest."""
        return len(self._open) + len(self._owed)

    def key(self, event: Event) -> tuple[str, ...] | None:
        rule = self.rules.get(event.type)
        if rule is None:
            return None
        return tuple(str(event.data.get(name, "")) for name in rule.key_fields)

    def admit(self, event: Event, mails: list[Mail]) -> bool:
        """True: mail this event as usual. False: it is folded into its window's digest."""
        key = self.key(event)
        if key is None or not mails:
            return True
        now = self.clock()
        self._sweep(now)
        window = self._open.get((event.type, key))
        if window is None or now >= window.due:
            if window is not None:
                self._end((event.type, key))
            if not self._room(now):
                self.unguarded += 1
                self.on_full(event)
                return True
            window = self._open[(event.type, key)] = Window(event.type, key, self.rules[event.type], opened=now)
        if window.mailed < window.rule.threshold:
            window.mailed += 1
            return True
        window.fold(event.id, _source(event), _when(event), mails)
        return False

    def window_of(self, event: Event) -> Window | None:
        """The open window ``event`` was counted in."""
        key = self.key(event)
        return None if key is None else self._open.get((event.type, key))

    def restore(self, data: Mapping, own: bool = False) -> None:
        """Apply a :func:`change` made by another guard to the same windows (``own``: by this
        one, before a :meth:`rewind`).

        A change to a window older than the one open for its key is dropped (that window
        is over), and so is one to a window that ended more than a window's length ago,
        unless it is this guard's own: its digest is owed until this guard sends it.
        It opens a window even past :data:`MOST_WINDOWS`: the other guard counted it within
        its own bound, and it may owe a digest.
        """
        kind, key, opened = str(data["type"]), tuple(str(part) for part in data["key"]), float(data["opened"])
        rule = self.rules.get(kind)
        if rule is None or (not own and opened + 2 * rule.window < self.clock()):
            return
        self._sweep(self.clock())
        window = self._open.get((kind, key))
        if window is None or window.opened < opened:
            if window is not None and window.folded:
                self._owed.append(window)
            window = self._open[(kind, key)] = Window(kind, key, rule, opened=opened)
        elif window.opened > opened:
            return
        if not data["folded"]:
            window.mailed += 1
            return
        mails = [Mail.from_json(json.dumps(mail)) for mail in data.get("mails", ())]
        window.fold(str(data["id"]), str(data["source"]), str(data["when"]), mails)

    def forget(self, kind: str, key: tuple[str, ...], opened: float) -> None:
        """Another guard sent this window's digest."""
        if (window := self._open.get((kind, key))) is not None and window.opened == opened:
            del self._open[(kind, key)]
        self._owed = [w for w in self._owed if not (w.event_type == kind and w.key == key and w.opened == opened)]

    def mark(self) -> None:
        """Remember the windows as they are (the state stream's, just read to its end)."""
        self._marked = ({key: _copy(w) for key, w in self._open.items()}, [_copy(w) for w in self._owed])

    def rewind(self) -> None:
        """Set the windows back to the last :meth:`mark`: what was counted since is to be restored."""
        marked_open, marked_owed = self._marked
        self._open = {key: _copy(w) for key, w in marked_open.items()}
        self._owed = [_copy(w) for w in marked_owed]

    def folded(self) -> int:
        """Events folded into digests not yet handed out."""
        return sum(w.folded for w in (*self._owed, *self._open.values()))

    def next_due(self) -> float | None:
        """When the earliest digest is owed (clock time), or None when none is."""
        owed = [w.due for w in (*self._owed, *self._open.values()) if w.folded]
        return min(owed) if owed else None

    def due(self) -> list[Window]:
        """Take the windows that have ended and owe a digest."""
        now = self.clock()
        self._sweep(now, force=True)
        ready = [w for w in self._owed if now >= w.due]
        self._owed = [w for w in self._owed if now < w.due]
        return ready

    def _sweep(self, now: float, force: bool = False) -> None:
        """Windows that ended leave the open ones: to owe their digest if they folded, else for good.
        At most once a :data:`SWEEP_SECONDS` unless forced: it reads every window."""
        if not force and now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        for key in [k for k, w in self._open.items() if now >= w.due]:
            self._end(key)

    def _end(self, key: tuple[str, tuple[str, ...]]) -> None:
        window = self._open.pop(key)
        if window.folded:
            self._owed.append(window)

    def _room(self, now: float) -> bool:
        """Whether a new window may open; when full, after sweeping what ended since the last sweep."""
        if len(self) >= self.most and self._swept < now:
            self._sweep(now, force=True)
        return len(self) < self.most

    def drain(self) -> list[Window]:
        """Take every window that owes a digest, ended or not (the consumer is stopping)."""
        windows = [*self._owed, *(w for w in self._open.values() if w.folded)]
        self._owed, self._open = [], {}
        return windows

    def give_back(self, window: Window, retry_in: float) -> None:
        """A digest that could not be published: owed again ``retry_in`` seconds from now."""
        window.retry_at = self.clock() + retry_in
        self._owed.append(window)


def _copy(window: Window) -> Window:
    return replace(window, sources=Counter(window.sources), mails=list(window.mails))


def digest_mails(window: Window) -> list[Mail]:
    """One digest mail per recipient of the folded events."""
    body = digest_body(window)
    digest_id = window.digest_id
    return [replace(
        mail,
        message_id=message_id(digest_id, mail.sender, mail.to, domain_of(mail.mail_from)),
        event_id=digest_id,
        subject=f"{mail.subject} ({window.folded} more)",
        text=body + "\n" + mail.text,
        html=None,
    ) for mail in window.mails]


def digest_body(window: Window) -> str:
    sources = window.sources.most_common()
    shown = "".join(f"  {address}: {count}\n" for address, count in sources[:MAX_SOURCES_SHOWN])
    if len(sources) > MAX_SOURCES_SHOWN:
        shown += f"  and {len(sources) - MAX_SOURCES_SHOWN} more addresses\n"
    return (
        f"{window.folded} more {window.event_type} event(s) with {window.describe_key()} were folded "
        f"into this digest after {window.mailed} sent one by one "
        f"(from {window.first_folded} to {window.last_folded}).\n"
        f"Source addresses ({len(sources)}):\n{shown}"
    )


def rules_from_settings(flood: FloodSettings) -> dict[str, FloodRule]:
    """``omero.mail.flood.window`` / ``.threshold``, overridden per event type by
    ``omero.mail.flood.<type>.window`` / ``.threshold`` / ``.key`` (data fields, comma-separated).

    Types with a key by default (DEFAULT_KEYS) are guarded; any other type is guarded
    once its ``.key`` is set.
    """
    rules = {}
    for kind in sorted(set(DEFAULT_KEYS) | set(flood.by_type)):
        override = flood.by_type.get(kind, FloodOverride())
        key_fields = override.key or DEFAULT_KEYS.get(kind, ())
        if key_fields:
            rules[kind] = FloodRule(
                key_fields=key_fields,
                window=flood.window if override.window is None else override.window,
                threshold=flood.threshold if override.threshold is None else override.threshold,
            )
    return rules
