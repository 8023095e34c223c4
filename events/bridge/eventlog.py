"""Reading OMERO's ``eventlog`` (and what its rows point to), read-only, one poll at a time.

OMERO writes one ``eventlog`` row (``action``, ``entitytype``, ``entityid``, ``event``)
for each object a write transaction inserts, updates or deletes; its ``event`` row says
who and when. One poll is one REPEATABLE READ transaction, so the rows, the snapshot the
cursor reasons with (``cursor.py``) and the names and comment links looked up for them
all describe the same moment of the database; a poll that finds new gaps also takes a
transaction id, the bound the cursor keeps for them (``cursor.py``: read-only, it changes
nothing). Each poll reads from the cursor's own ``high`` on, so the row there comes back
with the new ones: the anchor the cursor checks to notice a database that went back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

import psycopg

from .cursor import Anchor, EventlogCursor, Gap, Snapshot
from .errors import BridgeError

#: Comments are ``annotation`` rows with this discriminator (OMERO's mapping of CommentAnnotation).
COMMENT_DISCRIMINATOR = "/basic/text/comment/"
IMAGE_ANNOTATION_LINK = "ome.model.annotations.ImageAnnotationLink"

#: The table and column giving a readable name for the classes whose senders may want one.
NAME_COLUMNS = {
    "ome.model.meta.Experimenter": ("experimenter", "omename"),
    "ome.model.meta.ExperimenterGroup": ("experimentergroup", "name"),
    "ome.model.core.Image": ("image", "name"),
}

_SNAPSHOT = ("select txid_snapshot_xmin(s), txid_snapshot_xmax(s) "
             "from txid_current_snapshot() s")
_COLUMNS = """
    select l.id, l.action, l.entitytype, l.entityid, e.experimenter,
           e.time at time zone current_setting('TimeZone'), l.event
      from eventlog l join event e on e.id = l.event"""
_FROM = _COLUMNS + " where l.id >= %s order by l.id limit %s"
_AT = _COLUMNS + " where l.id = %s"
#: The row after the newest one written no later than a moment: where rows written since begin.
_AFTER = """
    select coalesce((select l.id from eventlog l join event e on e.id = l.event
                      where e.time <= %s::timestamp order by l.id desc limit 1), 0) + 1"""
_IN_GAPS = (_COLUMNS + " join unnest(%s::bigint[], %s::bigint[]) g(lo, hi) on l.id between g.lo and g.hi"
            " order by l.id limit %s")
_COMMENT_LINKS = """
    select l.id, l.child, l.parent, a.owner_id, a.textvalue, i.owner_id, i.name
      from imageannotationlink l
      join annotation a on a.id = l.child and a.discriminator = %s
      left join image i on i.id = l.parent
     where l.id = any(%s)"""


@dataclass(frozen=True)
class Row:
    """One ``eventlog`` row with its event's experimenter and time."""

    id: int
    action: str
    entitytype: str
    entityid: int
    experimenter: int | None
    time: datetime | None
    event: int = 0

    @property
    def stored_time(self) -> str:
        """The event's time as OMERO stored it (timestamp without time zone), whatever the session's zone."""
        return self.time.replace(tzinfo=None).isoformat() if self.time else ""

    def anchor(self) -> Anchor:
        """What tells this row from another that takes its id after a restore."""
        return Anchor(self.event, self.stored_time, self.action, self.entitytype, self.entityid)


@dataclass(frozen=True)
class CommentLink:
    """An ImageAnnotationLink whose child is a CommentAnnotation; image fields None if it is gone."""

    link_id: int
    comment_id: int
    image_id: int
    commenter_id: int
    text: str | None
    image_owner_id: int | None
    image_name: str | None


@dataclass
class Poll:
    snapshot: Snapshot
    rows: list[Row]
    #: False when the gaps held more rows than one batch: no gap may be given up yet.
    gaps_read_whole: bool
    #: The largest id in eventlog (rows behind = this minus the cursor's high).
    end: int
    links: dict[int, CommentLink]
    names: dict[tuple[str, int], str]
    #: The row at the cursor's high as it is now (None: there is none).
    anchor: Anchor | None = None

    def advance(self, cursor: EventlogCursor) -> list[Gap]:
        """Move ``cursor`` past this poll's rows, its anchor with it; the gaps given up."""
        high = cursor.high
        final = cursor.advance((row.id for row in self.rows), self.snapshot, self.gaps_read_whole)
        if cursor.high != high:
            cursor.anchor = next(row.anchor() for row in reversed(self.rows) if row.id == cursor.high)
        elif cursor.anchor is None:
            cursor.anchor = self.anchor  # a place from --from-id or an older state file: known from now on
        return final


def prepare(conn: psycopg.Connection) -> None:
    """Read-only, and one snapshot per transaction, for every poll on this connection."""
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ


class EventlogReader:
    """The bridge's queries; each method runs on the connection it is given."""

    def __init__(self, batch: int = 1000, on_query: Callable[[], None] = lambda: None):
        self.batch = batch
        #: Called per statement sent: the metric behind "queries on an idle OMERO".
        self.on_query = on_query

    def _execute(self, conn: psycopg.Connection, sql: str, params: Iterable = ()) -> list[tuple]:
        self.on_query()
        return conn.execute(sql, tuple(params)).fetchall()

    def database_id(self, conn: psycopg.Connection) -> str:
        """OMERO's ``omero.db.uuid``: which database a cursor belongs to."""
        with conn.transaction():
            found = self._execute(conn, "select value from configuration where name = 'omero.db.uuid'")
        if not found or not found[0][0]:
            raise BridgeError("OMERO's configuration table has no omero.db.uuid: is this an OMERO database?")
        return str(found[0][0])

    def end(self, conn: psycopg.Connection) -> int:
        with conn.transaction():
            return int(self._execute(conn, "select coalesce(max(id), 0) from eventlog")[0][0])

    def anchor_at(self, conn: psycopg.Connection, row_id: int) -> Anchor | None:
        """The row ``row_id`` as it is now, or None."""
        with conn.transaction():
            found = self._execute(conn, _AT, (row_id,))
        return Row(*found[0]).anchor() if found else None

    def first_written_after(self, conn: psycopg.Connection, stored_time: str) -> int:
        """The id after the newest row whose event is no later than ``stored_time`` (OMERO's
        timestamp): after a restore, where the rows written since begin."""
        with conn.transaction():
            return int(self._execute(conn, _AFTER, (stored_time,))[0][0])

    def poll(self, conn: psycopg.Connection, cursor: EventlogCursor) -> Poll:
        """One consistent read: ``conn`` must be REPEATABLE READ (see :func:`prepare`)."""
        with conn.transaction():
            xmin, xmax = self._execute(conn, _SNAPSHOT)[0]
            rows = [Row(*r) for r in self._execute(conn, _FROM, (cursor.high, self.batch + 1))]
            anchor = rows.pop(0).anchor() if rows and rows[0].id == cursor.high else None
            rows = rows[:self.batch]
            if rows and rows[-1].id - cursor.high > len(rows):
                # New gaps: their writers began before the snapshot, so before this id is taken.
                xmax = self._execute(conn, "select txid_current()")[0][0]
            gaps_read_whole = True
            if cursor.gaps:
                lows, highs = zip(*cursor.gap_ranges(), strict=True)
                in_gaps = [Row(*r) for r in self._execute(conn, _IN_GAPS, (list(lows), list(highs), self.batch))]
                gaps_read_whole = len(in_gaps) < self.batch
                rows = sorted(in_gaps + rows, key=lambda row: row.id)
            end = int(self._execute(conn, "select coalesce(max(id), 0) from eventlog")[0][0]) if rows else cursor.high
            links = self._comment_links(conn, rows)
            names = self._names(conn, rows)
        return Poll(Snapshot(int(xmin), int(xmax)), rows, gaps_read_whole, max(end, cursor.high), links, names, anchor)

    def _comment_links(self, conn: psycopg.Connection, rows: list[Row]) -> dict[int, CommentLink]:
        ids = [row.entityid for row in rows if row.entitytype == IMAGE_ANNOTATION_LINK and row.action == "INSERT"]
        if not ids:
            return {}
        found = self._execute(conn, _COMMENT_LINKS, (COMMENT_DISCRIMINATOR, ids))
        return {r[0]: CommentLink(*r) for r in found}

    def _names(self, conn: psycopg.Connection, rows: list[Row]) -> dict[tuple[str, int], str]:
        wanted: dict[str, list[int]] = {}
        for row in rows:
            if row.entitytype in NAME_COLUMNS and row.action != "DELETE":
                wanted.setdefault(row.entitytype, []).append(row.entityid)
        names: dict[tuple[str, int], str] = {}
        for entitytype, ids in wanted.items():
            table, column = NAME_COLUMNS[entitytype]
            sql = f"select id, {column} from {table} where id = any(%s)"  # names from the fixed table above
            for object_id, name in self._execute(conn, sql, (ids,)):
                if name is not None:
                    names[(entitytype, int(object_id))] = str(name)
        return names
