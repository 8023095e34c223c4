"""How far the bridge has published OMERO's ``eventlog``, without skipping a late commit.

OMERO takes each ``eventlog`` id from a sequence while its transaction runs, so rows
become visible in commit order, not id order: a slow transaction can commit id 100 after
id 101 was read. A plain "last id read" cursor would skip 100 for ever (OMERO's own
indexer, ``PersistentEventLogLoader``, keeps exactly such a cursor).

So the cursor is ``high``, the largest id read, plus the *gaps* below it: ranges of ids
not seen yet. Every poll reads the rows above ``high`` and the rows inside the gaps. A gap
is given up only when no transaction that could still write into it is running. That is
decided with PostgreSQL's transaction ids and snapshots, not with a timer:

- when a gap is first seen, every transaction that had allocated one of its ids had
  already begun writing (OMERO writes the changed objects, and so takes a transaction
  id, before it allocates their eventlog ids), so its transaction id is below the one
  that poll then takes for itself (``txid_current()``, after its snapshot: ids are handed
  out in order). That is the gap's ``xmax``. (The snapshot's own ``xmax`` is not enough:
  it is one past the newest *finished* transaction, and a running one may be newer.)
- once a later snapshot's ``xmin`` (the oldest transaction still running) reaches that
  ``xmax``, each of those transactions has committed, and its rows are visible to that
  snapshot's read, or has rolled back, and its ids are never used.

A gap read under such a snapshot is therefore final. A long transaction (a large import)
holds its gaps open for as long as it runs, while the rows around it go out at once, and
no gap is ever given up otherwise, however many there are (past :data:`MAX_GAPS` the
bridge warns).

The cursor also keeps the *anchor*: the row at ``high`` as it was read. OMERO never
changes an ``eventlog`` row, so when that id later holds another row, or none, the
database went back (a restored dump) and OMERO is reusing ids the cursor has passed.
Pure logic: the queries are in ``eventlog.py``, the storage in ``state.py``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Snapshot:
    """A poll's view: ``xmin``, the oldest transaction running at its snapshot; ``xmax``, a
    transaction id above every one that had begun by then (the gaps it opens keep it)."""

    xmin: int
    xmax: int


@dataclass(frozen=True)
class Gap:
    """Ids ``low``..``high`` (inclusive) not seen yet; final once a snapshot's xmin >= ``xmax``."""

    low: int
    high: int
    xmax: int

    def to_list(self) -> list[int]:
        return [self.low, self.high, self.xmax]


#: Past this many open gaps the bridge warns: each poll reads them all until they close.
MAX_GAPS = 10_000


@dataclass(frozen=True)
class Anchor:
    """What the row at the cursor's ``high`` was: its event, the event's time (as OMERO
    stored it), and the change it records."""

    event: int
    time: str
    action: str
    entitytype: str
    entityid: int

    def to_list(self) -> list:
        return [self.event, self.time, self.action, self.entitytype, self.entityid]

    @classmethod
    def from_list(cls, data: list) -> "Anchor":
        event, time, action, entitytype, entityid = data
        return cls(int(event), str(time), str(action), str(entitytype), int(entityid))


@dataclass
class EventlogCursor:
    """Every id <= ``high`` has been published, or lies in one of ``gaps``; ``anchor`` is the
    row at ``high`` (None until it has been read)."""

    high: int
    gaps: list[Gap] = field(default_factory=list)
    anchor: Anchor | None = None

    @property
    def over_limit(self) -> bool:
        return len(self.gaps) > MAX_GAPS

    def gap_ranges(self) -> list[tuple[int, int]]:
        return [(gap.low, gap.high) for gap in self.gaps]

    def advance(self, ids: Iterable[int], snapshot: Snapshot, gaps_read_whole: bool = True) -> list[Gap]:
        """Account for the ids published from one poll read under ``snapshot``.

        ``ids`` are the rows read in the gaps and above ``high``. ``gaps_read_whole`` is
        False when the poll could not read every row inside the gaps (more than one
        batch): then no gap is final yet. Returns the gaps given up (nothing will ever
        fill them) so the caller can count them. The caller sets ``anchor`` anew when
        ``high`` moved.
        """
        seen = sorted(set(ids))
        above = [i for i in seen if i > self.high]
        inside = [i for i in seen if i <= self.high]
        gaps = _remove(self.gaps, inside)
        previous = self.high
        for row_id in above:
            if row_id > previous + 1:
                gaps.append(Gap(previous + 1, row_id - 1, snapshot.xmax))
            previous = row_id
        self.high = previous
        # Read whole under this snapshot, a gap whose writers had all ended is final.
        def is_final(gap: Gap) -> bool:
            return gaps_read_whole and gap.xmax <= snapshot.xmin

        final = [gap for gap in gaps if is_final(gap)]
        self.gaps = [gap for gap in gaps if not is_final(gap)]
        return final

    def to_dict(self) -> dict:
        return {"high": self.high, "gaps": [gap.to_list() for gap in self.gaps],
                "anchor": self.anchor.to_list() if self.anchor else None}

    @classmethod
    def from_dict(cls, data: dict) -> "EventlogCursor":
        anchor = data.get("anchor")
        return cls(high=int(data["high"]), gaps=[Gap(int(lo), int(hi), int(x)) for lo, hi, x in data.get("gaps", [])],
                   anchor=Anchor.from_list(anchor) if anchor else None)


def _remove(gaps: list[Gap], ids: list[int]) -> list[Gap]:
    """The gaps with ``ids`` (sorted) taken out, split where an id falls inside one."""
    if not ids:
        return list(gaps)
    result: list[Gap] = []
    for gap in gaps:
        low = gap.low
        for row_id in ids[bisect_left(ids, gap.low):bisect_right(ids, gap.high)]:
            if row_id > low:
                result.append(Gap(low, row_id - 1, gap.xmax))
            low = row_id + 1
        if low <= gap.high:
            result.append(Gap(low, gap.high, gap.xmax))
    return result
