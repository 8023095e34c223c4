"""Whom an ObjectMailSender mails: OMERO's known HQL queries, and our plain spelling of them.

OMERO's ObjectMailSender runs a ``queryString`` (HQL) against its database. omero-mail
has no HQL engine, so it recognises the queries OMERO ships (compared with whitespace
collapsed and case folded) and refuses any other: guessing whom a query meant could mail
the wrong people. Our own XML says the same thing plainly with ``recipients``:
``group:NAME``, ``user:OMENAME`` and ``image-owner``, comma-separated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from events.schemas import Event

from .directory import Directory, Experimenter

IMAGE_OWNER = "image-owner"


@dataclass(frozen=True)
class Recipients:
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    #: The owner of the commented image, when the commenter is someone else.
    image_owner: bool = False

    def __bool__(self) -> bool:
        return bool(self.groups or self.users or self.image_owner)

    def __str__(self) -> str:
        words = [f"members of group {g}" for g in self.groups] + [f"user {u}" for u in self.users]
        if self.image_owner:
            words.append("the image owner, if someone else commented")
        return ", ".join(words)

    def resolve(self, event: Event, directory: Directory) -> list[Experimenter]:
        found: list[Experimenter] = []
        for group in self.groups:
            found.extend(directory.members(group))
        for name in self.users:
            user = directory.experimenter_by_name(name)
            if user is not None:
                found.append(user)
        if self.image_owner and event.data["commenter_id"] != event.data["image_owner_id"]:
            owner = directory.experimenter(event.data["image_owner_id"])
            if owner is not None:
                found.append(owner)
        return found


def parse_recipients(text: str) -> Recipients:
    """``group:system, user:root, image-owner`` -> :class:`Recipients`; ValueError otherwise."""
    groups, users, owner = [], [], False
    for term in (t.strip() for t in text.split(",")):
        kind, _, name = term.partition(":")
        if term == IMAGE_OWNER:
            owner = True
        elif kind == "group" and name.strip():
            groups.append(name.strip())
        elif kind == "user" and name.strip():
            users.append(name.strip())
        else:
            raise ValueError(f"unknown recipient {term!r} (expected group:NAME, user:OMENAME or {IMAGE_OWNER})")
    return Recipients(tuple(groups), tuple(users), owner)


def normalise(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip().lower()


#: The queries of OMERO's mail-senders.example, and what each one selects.
KNOWN_QUERIES = {
    normalise("select g from ExperimenterGroup g where g.id = :systemGroupId"): Recipients(groups=("system",)),
    normalise("select e from Experimenter e where e.id = :rootUserId"): Recipients(users=("root",)),
    normalise("""select i.details.owner from ImageAnnotationLink l
                 join l.parent as i join l.child as c
                 where c.id = :id and c.details.owner.id != i.details.owner.id"""): Recipients(image_owner=True),
}


def recipients_of_query(query: str) -> Recipients:
    found = KNOWN_QUERIES.get(normalise(query))
    if found is None:
        raise ValueError(f"queryString {normalise(query)[:120]!r} is not one omero-mail knows (it runs no HQL; "
                         "known: the system group, the root user, the owner of a commented image)")
    return found
