"""A database that went back below the bridge's place: a restored dump of OMERO's database.

A restore keeps ``omero.db.uuid`` and puts OMERO's sequences back where the dump left
them, below the ids the bridge has read: the rows OMERO writes next take ids the cursor
has passed, and would never be read. The cursor's anchor (``cursor.py``) tells it: the
row at its ``high`` is gone, or is another row.

The bridge then refuses to go on rather than guess where the restored rows end and the
new ones begin: a guess that reads old rows again mails people twice, one that skips new
rows mails nobody, and neither can be taken back. Stopped, it loses nothing. Its one line
names the command to run and its best ``--from-id``: the row after the newest one written
no later than the last row the bridge had read. Run, that publishes the rows from there
on; their event ids include their events' times (``mapping.py``), so the rules stage does
not fold them as copies of the rows that had those ids before.
"""

from __future__ import annotations

from .cursor import Anchor, EventlogCursor
from .errors import BridgeError


class WentBack(BridgeError):
    """OMERO's eventlog went back below the bridge's place; the message says what to run."""


def went_back(cursor: EventlogCursor, now: Anchor | None, end: int) -> bool:
    """The row at the cursor's ``high`` is not the one read there; with no anchor kept (a
    state file of an older bridge), eventlog ends below ``high``."""
    if cursor.anchor is not None:
        return now != cursor.anchor
    return end < cursor.high


def refusal(cursor: EventlogCursor, now: Anchor | None, resume_at: int | None) -> WentBack:
    """The one line: what happened, and the command that reads past it."""
    if cursor.anchor is None:
        what, written = "is past eventlog's end", ""
    else:
        what, written = ("is gone" if now is None else "is now another row"), f" (written {cursor.anchor.time})"
    if resume_at is None:
        from_id, hint = "N", "N: the first eventlog id OMERO wrote after the restore"
    else:
        from_id, hint = str(resume_at), f"{resume_at}: the first row written after the last one read; check it"
    return WentBack(f"OMERO's eventlog went back: the bridge has read up to eventlog id {cursor.high}{written}, and "
                    f"that row {what}; was a dump of OMERO's database restored? OMERO gives its new rows ids the "
                    f"bridge has passed. To publish them under new event ids, run once `omero-mail bridge --once "
                    f"--from-id {from_id}` ({hint}), then start the bridge again")
