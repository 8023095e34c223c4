"""The bridge's place in OMERO's eventlog and log, kept in one small JSON file.

Written only after RabbitMQ confirmed what it accounts for, and atomically (a temporary
file of the writer's own, fsync, rename, fsync of the directory), so ``kill -9`` or a
power cut leaves the previous state or the new one, never half of either, whoever else
writes beside it. After a crash the bridge publishes again what it had published since
the last write: the same rows give the same event ids, so the copies are recognisable
(at-least-once, never lost).

The file records which OMERO database it belongs to (``omero.db.uuid``): pointed at a
different database, the bridge refuses to start rather than skip or repeat another
database's rows. A restored dump keeps the uuid; the cursor's anchor tells it
(``cursor.py``, ``restore.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .cursor import EventlogCursor
from .errors import BridgeError

VERSION = 1


class StateError(BridgeError):
    """The state file cannot be read or written; the message names it."""


@dataclass
class LogPosition:
    """Where the bridge is in OMERO's log: which file (device, inode), how far, and the
    bytes just before that place (hex), which tell a file truncated and written again;
    ``previous`` is the end of the file before it in the log, which tells a file truncated
    in place from a new one that took its inode number."""

    device: int
    inode: int
    offset: int
    before: str = ""
    previous: "LogPosition | None" = None

    def to_dict(self) -> dict:
        return {"device": self.device, "inode": self.inode, "offset": self.offset, "before": self.before,
                "previous": self.previous.to_dict() if self.previous else None}

    @classmethod
    def from_dict(cls, data: dict) -> "LogPosition":
        previous = data.get("previous")
        return cls(int(data["device"]), int(data["inode"]), int(data["offset"]), str(data.get("before", "")),
                   cls.from_dict(previous) if previous else None)


@dataclass
class BridgeState:
    database: str
    eventlog: EventlogCursor | None = None
    log: LogPosition | None = None

    def to_json(self) -> str:
        data = {"version": VERSION, "database": self.database,
                "eventlog": self.eventlog.to_dict() if self.eventlog else None,
                "log": self.log.to_dict() if self.log else None}
        return json.dumps(data, indent=1) + "\n"


def read_state(path: Path) -> BridgeState | None:
    """The saved state, or None when the bridge never ran here."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read the bridge state {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        return BridgeState(
            database=str(data["database"]),
            eventlog=EventlogCursor.from_dict(data["eventlog"]) if data.get("eventlog") else None,
            log=LogPosition.from_dict(data["log"]) if data.get("log") else None,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"the bridge state {path} is damaged ({exc}); move it away to start again "
                         "at the current end of OMERO's eventlog, or give --from-id") from None


def write_state(path: Path, state: BridgeState) -> None:
    """Replace the state file atomically and durably."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(state.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StateError(f"cannot write the bridge state {path}: {exc.strerror}") from None
