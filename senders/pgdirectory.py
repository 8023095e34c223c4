"""The directory read from OMERO's own PostgreSQL database, read-only.

Two queries over OMERO's tables (README, "Directory"; ``experimenter``,
``experimentergroup``, ``groupexperimentermap``) in one read-only transaction give a
:class:`~senders.directory.MemoryDirectory` snapshot, so the JSON and PostgreSQL backends
answer the same questions the same way; :class:`~senders.directory.RefreshingDirectory`
reads it again on ``omero.mail.directory.refresh``.

The DSN is ``omero.mail.directory.dsn``, or else built from OMERO's own ``omero.db.*``
properties. Its password never reaches a log or an error: errors name only the host,
port, database and user.
"""

from __future__ import annotations

import psycopg

from events.omerodb import connect, describe, dsn_from_properties, reason

from .directory import DirectoryError, Experimenter, Group, MemoryDirectory

__all__ = ["dsn_from_properties", "load_postgres_directory"]

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


def load_postgres_directory(dsn: str) -> MemoryDirectory:
    """A snapshot of OMERO's experimenters and groups, in one read-only transaction."""
    try:
        with connect(dsn) as conn, conn.transaction():
            groups = [Group(int(i), name) for i, name in conn.execute(GROUPS)]
            experimenters = [
                Experimenter(id=int(i), omename=omename, firstname=first or "", lastname=last or "",
                             email=email or None, groups=frozenset(names))
                for i, omename, first, last, email, names in conn.execute(EXPERIMENTERS)
            ]
    except psycopg.Error as exc:
        raise DirectoryError(f"cannot read OMERO's directory from {describe(dsn)}: {reason(exc, dsn)}") from None
    return MemoryDirectory(experimenters, groups)
