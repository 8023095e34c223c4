"""One active bridge per OMERO database: a PostgreSQL advisory lock decides which.

Every bridge asks OMERO's database for the same session-level advisory lock on the
connection it polls with; the one that holds it publishes, the others try again every
second. The lock needs no write privilege, so the read-only role is enough. It belongs
to the database session: when the active bridge dies, even by ``kill -9``, its
connection closes and PostgreSQL releases the lock at once, so a standby takes over
within a second or two. When the connection breaks, the lock is gone with it and the
bridge must win it again before it publishes anything more.
"""

from __future__ import annotations

import hashlib

import psycopg

#: The lock's key: the same 64-bit number for every omero-mail bridge.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"omero-mail bridge").digest()[:8], "big", signed=True)


def try_lead(conn: psycopg.Connection) -> bool:
    """Take the lock if no other bridge holds it (re-entrant on the same connection)."""
    with conn.transaction():
        row = conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def holder(conn: psycopg.Connection) -> str:
    """Who holds the lock (application name and address), for the standby's log line."""
    with conn.transaction():
        found = conn.execute(
            "select a.application_name, coalesce(host(a.client_addr), 'local'), a.pid"
            "  from pg_locks l join pg_stat_activity a on a.pid = l.pid"
            " where l.locktype = 'advisory' and l.granted and l.objsubid = 1"
            "   and l.classid = %s::bigint::oid and l.objid = %s::bigint::oid",
            ((LOCK_KEY >> 32) & 0xFFFFFFFF, LOCK_KEY & 0xFFFFFFFF)).fetchone()
    return f"{found[0] or 'a bridge'} (database pid {found[2]}, from {found[1]})" if found else "another bridge"
