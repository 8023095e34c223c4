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

CONNECT_TIMEOUT = 10
HIDDEN = "********"


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
    """psycopg's message, first line only, with the password cut out if it ever appears."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        return type(exc).__name__
    return text.replace(str(password), HIDDEN) if password else text


def connect(dsn: str, application_name: str = "omero-mail", autocommit: bool = False) -> psycopg.Connection:
    """A read-only connection: nothing omero-mail runs can change OMERO's data."""
    conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT, application_name=application_name,
                           autocommit=autocommit)
    conn.read_only = True
    return conn
