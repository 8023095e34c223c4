"""OMERO's database for the bridge's tests: OMERO's own tables, rows written as OMERO writes them.

``tests/omero/schema.sql`` holds OMERO 5.6's DDL for the tables omero-mail reads, with
OMERO's bootstrap rows. :class:`OmeroDatabase` writes changes the way OMERO's server
does in one service call (ome/omero-server ``EventHandler``): the ``event`` row first, the
objects, then all the transaction's ``eventlog`` rows at the end, their ids taken at once
with ``ome_nextval('seq_eventlog', n)`` and permissions -35. The bridge then connects as
a role holding exactly README's ``GRANT SELECT`` list, so the grants are tested too.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

SCHEMA = Path(__file__).parent / "omero" / "schema.sql"
#: README's read-only grants for the bridge, word for word (test_bridge_grants checks README).
BRIDGE_TABLES = ("eventlog", "event", "configuration", "annotation", "imageannotationlink", "image",
                 "experimenter", "experimentergroup", "groupexperimentermap")
COMMENT = "/basic/text/comment/"
TAG = "/basic/text/tag/"


class Transaction:
    """One OMERO write transaction: the objects it changes and, at commit, their eventlog rows."""

    def __init__(self, conn: psycopg.Connection, user: int, group: int):
        self.conn, self.user, self.group = conn, user, group
        self.logs: list[tuple[str, str, int]] = []
        self.ids: list[int] = []
        self.event = self._next("seq_event")
        conn.execute('insert into event (id, permissions, time, experimenter, experimentergroup, "session", type) '
                     "values (%s, -35, now(), %s, %s, 1, 4)", (self.event, user, group))

    def _next(self, sequence: str, count: int = 1) -> int:
        return int(self.conn.execute("select ome_nextval(%s, %s)", (sequence, count)).fetchone()[0])

    def log(self, action: str, entitytype: str, entityid: int) -> None:
        self.logs.append((action, entitytype, entityid))

    def new_experimenter(self, omename: str, email: str | None = None, groups: tuple[int, ...] = (1,)) -> int:
        new = self._next("seq_experimenter")
        self.conn.execute("insert into experimenter (id, permissions, version, omename, firstname, lastname, email) "
                          "values (%s, 0, 0, %s, %s, 'Test', %s)", (new, omename, omename.title(), email))
        for index, group in enumerate(groups):
            self.conn.execute("insert into groupexperimentermap (id, permissions, version, parent, child, "
                              "child_index, owner) values (%s, -35, 0, %s, %s, %s, false)",
                              (self._next("seq_groupexperimentermap"), group, new, index))
        self.log("INSERT", "ome.model.meta.Experimenter", new)
        return new

    def new_group(self, name: str) -> int:
        new = self._next("seq_experimentergroup")
        self.conn.execute("insert into experimentergroup (id, permissions, version, name) values (%s, -120, 0, %s)",
                          (new, name))
        self.log("INSERT", "ome.model.meta.ExperimenterGroup", new)
        return new

    def new_image(self, name: str) -> int:
        new = self._next("seq_image")
        self.conn.execute("insert into image (id, permissions, name, creation_id, update_id, group_id, owner_id) "
                          "values (%s, -56, %s, %s, %s, %s, %s)", (new, name, self.event, self.event, self.group,
                                                                   self.user))
        self.log("INSERT", "ome.model.core.Image", new)
        return new

    def new_annotation(self, text: str, discriminator: str = COMMENT) -> int:
        new = self._next("seq_annotation")
        self.conn.execute("insert into annotation (discriminator, id, permissions, textvalue, creation_id, update_id, "
                          "group_id, owner_id) values (%s, %s, -56, %s, %s, %s, %s, %s)",
                          (discriminator, new, text, self.event, self.event, self.group, self.user))
        kind = "CommentAnnotation" if discriminator == COMMENT else "TagAnnotation"
        self.log("INSERT", f"ome.model.annotations.{kind}", new)
        return new

    def link(self, image: int, annotation: int) -> int:
        new = self._next("seq_imageannotationlink")
        self.conn.execute("insert into imageannotationlink (id, permissions, version, parent, child, creation_id, "
                          "update_id, group_id, owner_id) values (%s, -56, 0, %s, %s, %s, %s, %s, %s)",
                          (new, image, annotation, self.event, self.event, self.group, self.user))
        self.log("INSERT", "ome.model.annotations.ImageAnnotationLink", new)
        return new

    def rename_image(self, image: int, name: str) -> None:
        self.conn.execute("update image set name = %s, update_id = %s where id = %s", (name, self.event, image))
        self.log("UPDATE", "ome.model.core.Image", image)

    def delete_image(self, image: int) -> None:
        self.conn.execute("delete from imageannotationlink where parent = %s", (image,))
        self.conn.execute("delete from image where id = %s", (image,))
        self.log("DELETE", "ome.model.core.Image", image)

    def save_logs(self) -> list[int]:
        """``EventHandler.saveLogs``: ids reserved at once, rows inserted with permissions -35."""
        if not self.logs:
            return []
        last = self._next("seq_eventlog", len(self.logs))
        ids = list(range(last - len(self.logs) + 1, last + 1))
        with self.conn.cursor() as cur:
            cur.executemany("insert into eventlog (id, permissions, entityid, entitytype, action, event) "
                            "values (%s, -35, %s, %s, %s, %s)",
                            [(i, entityid, entitytype, action, self.event)
                             for i, (action, entitytype, entityid) in zip(ids, self.logs, strict=True)])
        return ids


class OmeroDatabase:
    def __init__(self, dsn: str, bridge_dsn: str):
        self.dsn = dsn
        #: The bridge's read-only role: README's grants and nothing more.
        self.bridge_dsn = bridge_dsn

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.dsn)

    @contextlib.contextmanager
    def transaction(self, user: int = 0, group: int = 0, conn: psycopg.Connection | None = None):
        """One OMERO service call as ``user``: commits with its eventlog rows, or rolls back."""
        own = conn is None
        conn = conn or self.connect()
        try:
            with conn.transaction():
                tx = Transaction(conn, user, group)
                yield tx
                tx.ids = tx.save_logs()
        finally:
            if own:
                conn.close()

    def uuid(self) -> str:
        with self.connect() as conn:
            return conn.execute("select value from configuration where name = 'omero.db.uuid'").fetchone()[0]

    def set_email(self, user: int, email: str) -> None:
        with self.connect() as conn:
            conn.execute("update experimenter set email = %s where id = %s", (email, user))

    def open_session(self, owner: int, started: datetime, closed: datetime | None = None,
                     timetolive_ms: int = 0) -> str:
        """A ``session`` row as OMERO's SessionManager writes one at login (``closed`` at logout); its key."""
        key = str(uuid.uuid4())
        with self.connect() as conn:
            conn.execute("insert into session (id, permissions, timetoidle, timetolive, started, closed, "
                         "defaulteventtype, uuid, owner, node, useragent) "
                         "values (ome_nextval('seq_session', 1), -35, 600000, %s, %s, %s, 'User', %s, %s, 0, "
                         "'OMERO.web')", (timetolive_ms, started, closed, key, owner))
        return key

    def close_session(self, key: str, at: datetime) -> None:
        with self.connect() as conn:
            conn.execute("update session set closed = %s where uuid = %s", (at, key))

    def dump(self, path: Path) -> Path:
        """``pg_dump -Fc``, as a site's nightly backup takes it."""
        subprocess.run(["pg_dump", "--format=custom", f"--file={path}", f"--dbname={self.dsn}"], check=True)
        return path

    def restore(self, path: Path) -> None:
        """The database dropped (its sessions ended) and made again from ``path``: same omero.db.uuid,
        the sequences back where the dump left them."""
        name = psycopg.conninfo.conninfo_to_dict(self.dsn)["dbname"]
        admin = " ".join(p for p in self.dsn.split() if not p.startswith("dbname=")) + " dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        subprocess.run(["pg_restore", "--exit-on-error", f"--dbname={self.dsn}", str(path)], check=True)


def grant_statements(role: str) -> list[str]:
    return [f"GRANT SELECT ON {', '.join(BRIDGE_TABLES)} TO {role}"]


@pytest.fixture
def omero_db(postgres_dsn):
    """A fresh OMERO database, and a read-only role for the bridge, dropped afterwards."""
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(SCHEMA.read_text())
        role = f"omero_mail_{uuid.uuid4().hex[:10]}"
        conn.execute(f"CREATE ROLE {role} LOGIN")
        for statement in grant_statements(role):
            conn.execute(statement)
    parts = [p for p in postgres_dsn.split() if not p.startswith("user=")]
    yield OmeroDatabase(postgres_dsn, " ".join(parts + [f"user={role}"]))
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (role,))
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")
