"""One active bridge per OMERO database: a PostgreSQL advisory lock decides which.

Every bridge asks OMERO's database for the same session-level advisory lock on the
connection it polls with; the one that holds it publishes, the others try again every
second. The lock needs no write privilege, so the read-only role is enough. It belongs
to the database session: when the active bridge dies, even by ``kill -9``, its
connection closes and PostgreSQL releases the lock at once, so a standby takes over
within a second or two. When the connection breaks, the lock is gone with it and the
bridge must win it again before it publishes anything more.

A bridge learns that its session is gone only when it next speaks to the database, and
one stuck retrying a publish does not. So the lead takes a second lock, on the state file
(``flock`` on ``<state>.lock``, which the kernel drops when the process ends): a new
leader publishes nothing until the old one has let go of it, and the old one checks its
session before each publish and lets go as soon as it finds it gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

import psycopg

from .state import StateError

#: The lock's key: the same 64-bit number for every omero-mail bridge.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"omero-mail bridge").digest()[:8], "big", signed=True)
#: How pg_locks shows a bigint key: its high and low halves (objsubid 1).
_LOCK_PARTS = ((LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF)


def try_lead(conn: psycopg.Connection) -> bool:
    """Take the lock if no other bridge holds it (re-entrant on the same connection)."""
    with conn.transaction():
        row = conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def holds(conn: psycopg.Connection) -> bool:
    """This session still holds the lock (a session that is gone raises psycopg's error)."""
    with conn.transaction():
        row = conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and granted and pid = pg_backend_pid()"
            " and objsubid = 1 and classid = %s::bigint::oid and objid = %s::bigint::oid", _LOCK_PARTS).fetchone()
    return bool(row and row[0])


def holder(conn: psycopg.Connection) -> str:
    """Who holds the lock (application name and address), for the standby's log line."""
    with conn.transaction():
        found = conn.execute(
            "select a.application_name, coalesce(host(a.client_addr), 'local'), a.pid"
            "  from pg_locks l join pg_stat_activity a on a.pid = l.pid"
            " where l.locktype = 'advisory' and l.granted and l.objsubid = 1"
            "   and l.classid = %s::bigint::oid and l.objid = %s::bigint::oid", _LOCK_PARTS).fetchone()
    return f"{found[0] or 'a bridge'} (database pid {found[2]}, from {found[1]})" if found else "another bridge"


class StateLock:
    """The lead's second lock: ``flock`` on ``<state>.lock``, holding the pid of its holder."""

    def __init__(self, state_path: Path):
        self.path = state_path.with_name(state_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take it if no other process holds it (True at once if this one does)."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(f"cannot write the bridge state's lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            pid = ""
        return f"the bridge of pid {pid}" if pid else "another bridge"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the flock goes with the last descriptor
        self._fd = None
