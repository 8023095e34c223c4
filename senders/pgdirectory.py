"""The directory read from OMERO's own PostgreSQL database, read-only.

Two queries over OMERO's tables (REFERENCE.md §5: ``experimenter``,
``experimentergroup``, ``groupexperimentermap``) in one read-only transaction give a
:class:`~senders.directory.MemoryDirectory` snapshot, so the JSON and PostgreSQL backends
answer the same questions the same way; :class:`~senders.directory.RefreshingDirectory`
reads it again on ``omero.mail.directory.refresh``.

The DSN is ``omero.mail.directory.dsn``, or else built from OMERO's own ``omero.db.*``
properties. Its password never reaches a log or an error: errors name only the host,
port, database and user.
"""

from __future__ import annotations

from typing import Mapping

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .directory import DirectoryError, Experimenter, Group, MemoryDirectory

CONNECT_TIMEOUT = 10

GROUPS = "select g.id, g.name from experimentergroup g order by g.id"
EXPERIMENTERS = """
    select e.id, e.omename, e.firstname, e.lastname, e.email,
           coalesce(array_agg(g.name) filter (where g.name is not null), '{}')
      from experimenter e
      left join groupexperimentermap m on m.child = e.id
      left join experimentergroup g on g.id = m.parent
     group by e.id
     order by e.id
"""


def dsn_from_properties(props: Mapping[str, str]) -> str:
    """``omero.mail.directory.dsn``, else OMERO's ``omero.db.host/port/name/user/pass``."""
    dsn = (props.get("omero.mail.directory.dsn") or "").strip()
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


def _reason(exc: Exception, dsn: str) -> str:
    """psycopg's message, first line only, with the password cut out if it ever appears."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    try:
        password = conninfo_to_dict(dsn).get("password")
    except psycopg.ProgrammingError:
        return type(exc).__name__
    return text.replace(password, "********") if password else text


def load_postgres_directory(dsn: str) -> MemoryDirectory:
    """A snapshot of OMERO's experimenters and groups, in one read-only transaction."""
    try:
        with psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT, application_name="omero-mail") as conn:
            conn.read_only = True
            with conn.transaction():
                groups = [Group(int(i), name) for i, name in conn.execute(GROUPS)]
                experimenters = [
                    Experimenter(id=int(i), omename=omename, firstname=first or "", lastname=last or "",
                                 email=email or None, groups=frozenset(names))
                    for i, omename, first, last, email, names in conn.execute(EXPERIMENTERS)
                ]
    except psycopg.Error as exc:
        raise DirectoryError(f"cannot read OMERO's directory from {describe(dsn)}: {_reason(exc, dsn)}") from None
    return MemoryDirectory(experimenters, groups)
