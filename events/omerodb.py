"""Connecting to OMERO's own PostgreSQL database, read-only, without leaking its password.

The directory (``senders/pgdirectory.py``) and the bridge (``events/bridge``) both read
OMERO's tables. They find the database the same way: their own DSN property if set, else
OMERO's ``omero.db.host/port/name/user/pass``, so a site configures OMERO's database once.
Errors name the host, port, database and user, never the password.
"""

from __future__ import annotations

from typing import Mapping

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .config import redact

CONNECT_TIMEOUT = 10


def dsn_from_properties(props: Mapping[str, str], key: str = "omero.mail.directory.dsn") -> str:
    """The DSN in ``key``, else one built from OMERO's ``omero.db.*`` properties."""
    dsn = (props.get(key) or "").strip()
    if dsn:
        return dsn
    return make_conninfo(host=props.get("omero.db.host") or "localhost", port=props.get("omero.db.port") or "5432",
                         dbname=props.get("omero.db.name") or "omero", user=props.get("omero.db.user") or "omero",
                         password=props.get("omero.db.pass") or None)


def describe(dsn: str) -> str:
    """Where the DSN points, without its password (for errors and logs)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "a DSN that cannot be parsed"
    return "postgresql {user}@{host}:{port}/{dbname}".format(
        user=parts.get("user", ""), host=parts.get("host", "localhost"),
        port=parts.get("port", "5432"), dbname=parts.get("dbname", ""))


def reason(exc: Exception, dsn: str) -> str:
    """psycopg's message, first line only, with any password field hidden.

    A DSN libpq cannot parse is named by the error's type only: its message may quote
    pieces of the DSN, the password among them.
    """
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return type(exc).__name__
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])


def connect(dsn: str, application_name: str = "omero-mail", autocommit: bool = False) -> psycopg.Connection:
    """A read-only connection: nothing omero-mail runs can change OMERO's data."""
    conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT, application_name=application_name,
                           autocommit=autocommit)
    conn.read_only = True
    return conn
