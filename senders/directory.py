"""Who is who: the experimenters and groups that recipients are resolved from.

Every backend answers the same few questions (a user by id or name, a group's members,
the active users, the admins) with plain :class:`Experimenter` rows, so the rules are
pure functions over data. Active means a member of OMERO's ``user`` group, admin a
member of ``system`` (README, "Directory").
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Protocol

log = logging.getLogger(__name__)

SYSTEM_GROUP = "system"
USER_GROUP = "user"
GUEST_GROUP = "guest"


class DirectoryError(Exception):
    """The directory cannot be read; the message names the source."""


@dataclass(frozen=True)
class Experimenter:
    id: int
    omename: str
    firstname: str = ""
    lastname: str = ""
    email: str | None = None
    groups: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        return USER_GROUP in self.groups

    @property
    def admin(self) -> bool:
        return SYSTEM_GROUP in self.groups

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.firstname, self.lastname) if part)


@dataclass(frozen=True)
class Group:
    id: int
    name: str


class Directory(Protocol):
    def experimenter(self, id: int) -> Experimenter | None: ...
    def experimenter_by_name(self, omename: str) -> Experimenter | None: ...
    def group(self, id_or_name: int | str) -> Group | None: ...
    def members(self, group: int | str) -> list[Experimenter]: ...
    def experimenters(self) -> list[Experimenter]: ...


class MemoryDirectory:
    """A directory held in memory: the JSON backend's store, and a test double of OMERO's."""

    def __init__(self, experimenters: Iterable[Experimenter], groups: Iterable[Group]):
        self._by_id = {e.id: e for e in sorted(experimenters, key=lambda e: e.id)}
        self._by_name = {e.omename: e for e in self._by_id.values()}
        self._groups = {g.id: g for g in groups}
        self._groups_by_name = {g.name: g for g in self._groups.values()}
        # Members are listed once here, not per event: a broadcast may ask for 20,000 of them.
        self._members: dict[str, list[Experimenter]] = {g.name: [] for g in self._groups.values()}
        for experimenter in self._by_id.values():
            for name in experimenter.groups:
                self._members.setdefault(name, []).append(experimenter)

    def experimenter(self, id: int) -> Experimenter | None:
        return self._by_id.get(id)

    def experimenter_by_name(self, omename: str) -> Experimenter | None:
        return self._by_name.get(omename)

    def group(self, id_or_name: int | str) -> Group | None:
        if isinstance(id_or_name, int):
            return self._groups.get(id_or_name)
        return self._groups_by_name.get(id_or_name)

    def members(self, group: int | str) -> list[Experimenter]:
        found = self.group(group)
        if found is None:
            return []
        return list(self._members.get(found.name, ()))

    def experimenters(self) -> list[Experimenter]:
        return list(self._by_id.values())


def admins(directory: Directory) -> list[Experimenter]:
    return directory.members(SYSTEM_GROUP)


def active_users(directory: Directory) -> list[Experimenter]:
    return directory.members(USER_GROUP)


def parse_json_directory(data: dict, source: str = "directory") -> MemoryDirectory:
    try:
        groups = [Group(int(g["id"]), str(g["name"])) for g in data.get("groups", [])]
        experimenters = [
            Experimenter(
                id=int(e["id"]),
                omename=str(e["omeName"]),
                firstname=e.get("firstName") or "",
                lastname=e.get("lastName") or "",
                email=e.get("email") or None,
                groups=frozenset(e.get("groups", [])),
            )
            for e in data.get("experimenters", [])
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DirectoryError(f"{source}: bad experimenter or group row ({type(exc).__name__}: {exc})") from None
    return MemoryDirectory(experimenters, groups)


def load_json_directory(path: str | Path | None = None) -> MemoryDirectory:
    """A JSON directory file, or the embedded default (OMERO's bootstrap rows)."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DirectoryError(f"cannot read directory file {path}: {exc.strerror}") from None
        source = str(path)
    else:
        text = resources.files("senders").joinpath("data/directory.json").read_text(encoding="utf-8")
        source = "embedded directory"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return parse_json_directory(data, source)


class RefreshingDirectory:
    """A backend's snapshot, read again once it is ``refresh`` seconds old.

    Called for every event, so it answers from memory; a reload that fails keeps the
    last good snapshot (and says so) rather than stopping mail. ``refresh`` 0 reads once.
    """

    def __init__(self, load: Callable[[], MemoryDirectory], refresh: float,
                 clock: Callable[[], float] = time.monotonic):
        self._load, self.refresh, self._clock = load, refresh, clock
        self._current = load()
        self._loaded_at = clock()

    def __call__(self) -> MemoryDirectory:
        if self.refresh > 0 and self._clock() - self._loaded_at >= self.refresh:
            try:
                self._current = self._load()
            except DirectoryError as exc:
                log.warning("directory not refreshed, keeping the last one read: %s", exc)
            self._loaded_at = self._clock()
        return self._current
