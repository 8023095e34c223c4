"""OMERO itself, as the bridge sees it: its database's writes and its Blitz-0.log.

The database is written with ``tests/omero_db.py``'s row writers (one OMERO service call
per transaction, eventlog rows and all); the log with logback's line pattern, rolled as
logback's FixedWindowRollingPolicy rolls it (``Blitz-0.log`` -> ``.1`` -> ``.2`` ... ``.9``).
A backup is ``pg_dump``; a restore drops the database and restores a dump, so the
eventlog sequence (and every id after the dump) goes back, as after an admin's restore.
:attr:`Omero.gate` is held around every write, so a restore happens between two of them.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from .site import DOMAIN, Site

#: logback's pattern in OMERO's etc/logback.xml: %date %-5level [%40.40logger{40}] \(%10.10thread\) %msg%n
LOGIN_LISTENER = "ome.security.auth.LoginAttemptListener"
ENTRY = "ome.services.blitz.Entry"
ROLLED_FILES = 9


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    email: str | None
    admin: bool
    active: bool
    staff: bool


class BlitzLog:
    """OMERO's ``var/log/Blitz-0.log``: lines appended as logback writes them, and rolled."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self._failures: dict[str, int] = {}
        self._thread = 0
        path.touch()

    def _write(self, level: str, logger: str, message: str) -> str:
        with self.lock:
            self._thread += 1
            now = datetime.now()
            line = (f"{now:%Y-%m-%d %H:%M:%S},{now.microsecond // 1000:03d} {level:<5} [{logger[-40:]:>40}] "
                    f"({f'Server-{self._thread}'[-10:]:>10}) {message}")
            with open(self.path, "a", encoding="utf-8") as log:
                log.write(line + "\n")
            return line

    def failed_login(self, user: str) -> str:
        count = self._failures[user] = self._failures.get(user, 0) + 1
        return self._write("WARN", LOGIN_LISTENER, f"{count} failed logins for {user}. Throttling for 3000")

    def server_started(self) -> str:
        return self._write("INFO", ENTRY, "OMERO.blitz now accepting connections.")

    def server_stopping(self) -> str:
        return self._write("INFO", ENTRY, "Calling close on context OMERO.blitz")

    def noise(self) -> str:
        return self._write("INFO", "ome.services.sessions.SessionManagerImpl", "Received: CreateSessionMessage")

    def roll(self) -> None:
        """``Blitz-0.log`` becomes ``.1``, ``.1`` becomes ``.2``, ...; the oldest beyond ``.9`` is gone."""
        with self.lock:
            oldest = self.path.with_name(f"{self.path.name}.{ROLLED_FILES}")
            oldest.unlink(missing_ok=True)
            for index in range(ROLLED_FILES - 1, 0, -1):
                rolled = self.path.with_name(f"{self.path.name}.{index}")
                if rolled.exists():
                    rolled.rename(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
            self.path.touch()


class Omero:
    def __init__(self, site: Site):
        self.site = site
        self.db = site.db
        self.log = BlitzLog(site.log_path)
        self.gate = threading.Lock()
        self.people: list[Person] = []
        #: Images and their owners, made before the run.
        self.images: list[tuple[int, Person]] = []
        self.database_uuid = ""
        #: How many restores the database has been through: its rows' ids are reused after each.
        self.restores = 0

    def set_up(self) -> None:
        """The people, the group ``staff`` and the images that are there before the run (history)."""
        with self.db.transaction() as tx:
            staff = tx.new_group("staff")
        cast = [("alice", True, True, True, True), ("bob", False, True, True, False),
                ("carol", True, False, True, True), ("dave", True, False, True, True),
                ("erin", True, False, True, False), ("frank", False, False, True, True)]
        people = [Person(0, "root", f"root@{DOMAIN}", True, True, False)]
        self.db.set_email(0, f"root@{DOMAIN}")
        for name, has_email, admin, active, in_staff in cast:
            groups = tuple(g for g, member in ((0, admin), (1, active), (staff, in_staff)) if member)
            email = f"{name}@{DOMAIN}" if has_email else None
            with self.db.transaction() as tx:
                new = tx.new_experimenter(name, email, groups)
            people.append(Person(new, name, email, admin, active, in_staff))
        self.people = people
        for owner in (p for p in people if p.email and p.name != "root"):
            for number in (1, 2):
                with self.db.transaction(user=owner.id, group=1) as tx:
                    self.images.append((tx.new_image(f"{owner.name}-image-{number}.tif"), owner))
        self.database_uuid = self.db.uuid()

    def new_user(self, name: str, email: str) -> tuple[int, int, str]:
        """``omero user add``: (experimenter id, eventlog id of its INSERT, its event's time)."""
        with self.db.transaction() as tx:
            new = tx.new_experimenter(name, email, (1,))
        return new, tx.ids[0], self.event_time(tx.event)

    def new_group(self, name: str) -> tuple[int, int, str]:
        with self.db.transaction() as tx:
            new = tx.new_group(name)
        return new, tx.ids[0], self.event_time(tx.event)

    def comment(self, image: int, commenter: Person, text: str) -> tuple[int, int, str]:
        """A comment on ``image`` by ``commenter``: (comment id, eventlog id of the link's INSERT, event time)."""
        with self.db.transaction(user=commenter.id, group=1) as tx:
            comment = tx.new_annotation(text)
            tx.link(image, comment)
        return comment, tx.ids[1], self.event_time(tx.event)

    def event_time(self, event: int) -> str:
        """An event's time as OMERO stored it (``timestamp`` without zone), as the bridge reads it."""
        with self.db.connect() as conn:
            return conn.execute("select time from event where id = %s", (event,)).fetchone()[0].isoformat()

    # -- backups -------------------------------------------------------------------
    def backup(self, path: Path) -> int:
        """``pg_dump`` of the database; returns the eventlog's last id in it."""
        subprocess.run(["pg_dump", "--format=custom", f"--file={path}", self.db.dsn], check=True,
                       capture_output=True, timeout=120)
        return self.eventlog_end()

    def restore(self, path: Path) -> None:
        """Drop the database (closing every connection to it) and restore the dump."""
        with psycopg.connect(self.site.admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{self.site.database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.site.database}"')
        subprocess.run(["pg_restore", f"--dbname={self.db.dsn}", str(path)], check=True, capture_output=True,
                       timeout=120)
        self.restores += 1

    def eventlog_end(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute("select coalesce(max(id), 0) from eventlog").fetchone()[0])

    def bridge_caught_up(self, timeout: float) -> tuple[bool, int, list[tuple[int, int]]]:
        """Wait until the bridge's state file accounts for every eventlog row: (done, high, gaps)."""
        end = self.eventlog_end()
        deadline = time.monotonic() + timeout
        high, gaps = 0, []
        while time.monotonic() < deadline:
            try:
                cursor = json.loads(self.site.state_path.read_text())["eventlog"] or {}
            except (OSError, ValueError, KeyError):
                cursor = {}
            high, gaps = int(cursor.get("high", 0)), [(lo, hi) for lo, hi, _ in cursor.get("gaps", [])]
            if high >= end and not gaps:
                return True, high, gaps
            time.sleep(0.5)
        return False, high, gaps
