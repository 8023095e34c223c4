"""What each ``eventlog`` row becomes: the events OMERO's ObjectMailSender would have seen.

- INSERT, UPDATE and DELETE of any OMERO model class become ``object.created``,
  ``object.updated`` and ``object.deleted``. Other actions OMERO logs (REINDEX,
  PIXELDATA, ...) are not changes a sender watches and are skipped, counted.
- The INSERT of an ``ImageAnnotationLink`` whose child is a ``CommentAnnotation`` also
  becomes ``comment.added``, with the image, its owner, the commenter and the text: what
  OMERO's newCommentMailSender looks up with its query.

Event ids are derived (uuid5) from OMERO's database identity, the eventlog id, the time
of the row's event as OMERO stored it, and the type: a row published twice, after a
crash, carries the same id both times and its mails the same Message-IDs. After a
restored dump OMERO gives new rows ids it had given before; their events' times differ,
so their event ids do, and the rules stage does not fold them as copies of the rows those
ids had before (while a restored row read again keeps its id). The events are built
directly from OMERO's typed columns, not validated field by field (that cost more than
everything else in a catch-up); the tests check that each kind loads under the contract's
schemas. Pure logic, tested without a database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..schemas import Event
from .eventlog import IMAGE_ANNOTATION_LINK, Poll, Row

#: The namespace of every id the bridge derives (a fixed, random uuid: never change it).
NAMESPACE = uuid.UUID("5f0b8a3e-3d5e-4c1f-9b7a-0d6f2c4e8a11")
ACTION_TYPES = {"INSERT": "object.created", "UPDATE": "object.updated", "DELETE": "object.deleted"}
MODEL_PACKAGE = "ome.model."


def event_id(database: str, stream: str, key: str) -> str:
    """The same id for the same OMERO database, stream (eventlog, log) and entry."""
    return str(uuid.uuid5(NAMESPACE, f"{database}/{stream}/{key}"))


@dataclass(frozen=True)
class Skipped:
    """A row that becomes no event: ``reason`` is a metric label, ``detail`` the log line."""

    row_id: int
    reason: str
    detail: str


@dataclass
class Mapped:
    events: list[Event] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class RowFilter:
    """Which rows become events: ``omero.mail.bridge.actions`` and ``.classes`` (empty = all)."""

    actions: frozenset[str] = frozenset(ACTION_TYPES)
    classes: frozenset[str] = frozenset()

    def reason_to_skip(self, row: Row) -> str | None:
        if row.action not in ACTION_TYPES:
            return "action"
        if row.action not in self.actions:
            return "filtered"
        if not row.entitytype.startswith(MODEL_PACKAGE):
            return "class"
        if self.classes and row.entitytype not in self.classes and _short(row.entitytype) not in self.classes:
            return "filtered"
        return None


def _short(entitytype: str) -> str:
    return entitytype.rpartition(".")[2]


def _when(row: Row) -> datetime:
    moment = row.time or datetime.now(timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _event(database: str, source: str, row: Row, kind: str, data: dict) -> Event:
    return Event(id=event_id(database, "eventlog", f"{row.id}@{row.stored_time}/{kind}"), type=kind,
                 occurred_at=_when(row), source=source, data={**data, "eventlog_id": row.id})


def map_poll(poll: Poll, database: str, source: str, rows_filter: RowFilter) -> Mapped:
    """The events of one poll's rows, in eventlog order, and the rows skipped with why."""
    mapped = Mapped()
    for row in poll.rows:
        why = rows_filter.reason_to_skip(row)
        if why == "class":
            mapped.skipped.append(Skipped(row.id, why, f"entitytype {row.entitytype!r} is not an OMERO model class"))
        elif why is not None:
            mapped.skipped.append(Skipped(row.id, why, ""))
        else:
            data = {"object_class": row.entitytype, "object_id": row.entityid, "actor_id": row.experimenter}
            name = poll.names.get((row.entitytype, row.entityid))
            if name is not None:
                data["name"] = name
            mapped.events.append(_event(database, source, row, ACTION_TYPES[row.action], data))
        if row.entitytype == IMAGE_ANNOTATION_LINK and row.action == "INSERT":
            _add_comment(mapped, poll, row, database, source)
    return mapped


def _add_comment(mapped: Mapped, poll: Poll, row: Row, database: str, source: str) -> None:
    link = poll.links.get(row.entityid)
    if link is None:
        return  # not a comment's link (a tag, a file...), or deleted since
    if link.image_owner_id is None:
        mapped.skipped.append(Skipped(row.id, "missing", f"ImageAnnotationLink:{row.entityid} links comment "
                                      f"{link.comment_id} to Image:{link.image_id}, which no longer exists"))
        return
    data = {"comment_id": link.comment_id, "image_id": link.image_id, "image_owner_id": link.image_owner_id,
            "commenter_id": link.commenter_id, "text": link.text, "image_name": link.image_name}
    mapped.events.append(_event(database, source, row, "comment.added", data))
