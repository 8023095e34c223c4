"""Who is who: the experimenters and groups that recipients are resolved from.

Every backend answers the same few questions (a user by id or name, a group's members,
the active users, the admins) with plain :class:`Experimenter` rows, so the rules are
pure functions over data. Active means a member of OMERO's ``user`` group, admin a
member of ``system`` (REFERENCE.md §5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterable, Protocol

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
        self._by_id = {e.id: e for e in experimenters}
        self._by_name = {e.omename: e for e in self._by_id.values()}
        self._groups = {g.id: g for g in groups}
        self._groups_by_name = {g.name: g for g in self._groups.values()}

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
        return sorted((e for e in self._by_id.values() if found.name in e.groups), key=lambda e: e.id)

    def experimenters(self) -> list[Experimenter]:
        return sorted(self._by_id.values(), key=lambda e: e.id)


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
