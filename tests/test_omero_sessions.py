"""The rules stage's look-up of the web app's session proofs, in OMERO's own ``session`` table.

A real PostgreSQL with OMERO's DDL (tests/omero_db.py); the checker connects as a role with
README's grants: the directory's tables and ``session``, nothing else.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from consumer.access.sessions import CLOCK_SKEW, OmeroSessions, omero_sessions
from consumer.access.trust import SessionsUnavailable
from events.schemas import new_event
from events.session_proof import FIELD, content_digest, event_proof, session_proof, with_session_proof
from events.settings import DirectorySettings

ROOT = 0
AT = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


@pytest.fixture
def sessions(omero_db):
    """The checker on OMERO's database, as a role granted README's SELECT on ``session`` too."""
    role = psycopg.conninfo.conninfo_to_dict(omero_db.bridge_dsn)["user"]
    with omero_db.connect() as conn:
        conn.execute(f"GRANT SELECT ON session TO {role}")
    return OmeroSessions(omero_db.bridge_dsn)


@pytest.fixture
def alice(omero_db) -> int:
    with omero_db.transaction() as tx:
        return tx.new_experimenter("alice", "alice@example.org", groups=(0, 1))


def broadcast(admin: str = "root", at: datetime = AT):
    event = new_event("admin.broadcast", {"subject": "S", "body": "B", "everyone": True, "requested_by": admin})
    return replace(event, occurred_at=at)


def proves(sessions, event, key: str) -> bool:
    """Whether the checker finds the session of ``key`` behind ``event``, proved with that key."""
    proved = with_session_proof(event, session_proof(key))
    return sessions(event.data["requested_by"], proved.data[FIELD], content_digest(proved), event.occurred_at)


def test_an_open_session_of_the_admin_proves_their_broadcast(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    assert proves(sessions, broadcast("root"), key)


def test_a_session_closed_after_the_broadcast_was_made_still_proves_it(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    omero_db.close_session(key, AT + timedelta(seconds=2))  # the admin logs out while it is being sent
    assert proves(sessions, broadcast("root"), key)


def test_a_session_of_another_admin_proves_nothing(omero_db, sessions, alice):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    assert not proves(sessions, broadcast("alice"), key)


def test_a_session_closed_before_the_broadcast_proves_nothing(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR, closed=AT - CLOCK_SKEW - timedelta(seconds=1))
    assert not proves(sessions, broadcast("root"), key)


def test_a_session_started_after_the_broadcast_proves_nothing(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT + CLOCK_SKEW + timedelta(seconds=1))
    assert not proves(sessions, broadcast("root"), key)


def test_clocks_a_little_apart_are_allowed_for(omero_db, sessions):
    started = omero_db.open_session(ROOT, started=AT + CLOCK_SKEW - timedelta(seconds=1))
    closed = omero_db.open_session(ROOT, started=AT - HOUR, closed=AT - CLOCK_SKEW + timedelta(seconds=1))
    assert proves(sessions, broadcast("root"), started) and proves(sessions, broadcast("root"), closed)


def test_a_session_past_its_time_to_live_proves_nothing_though_never_closed(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - 2 * HOUR, timetolive_ms=int(HOUR.total_seconds() * 1000))
    assert not proves(sessions, broadcast("root"), key)


def test_an_unknown_digest_proves_nothing(omero_db, sessions):
    omero_db.open_session(ROOT, started=AT - HOUR)
    event = broadcast("root")
    assert not sessions("root", "0" * 64, content_digest(event), AT)


def test_the_session_keys_digest_alone_proves_nothing(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    assert not sessions("root", session_proof(key), content_digest(broadcast("root")), AT)


def test_the_proof_of_another_event_proves_nothing(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    event = broadcast("root")
    assert not sessions("root", event_proof(session_proof(key), broadcast("root")), content_digest(event), AT)


def test_omero_s_bootstrap_sessions_prove_nothing(omero_db, sessions):
    assert not any(proves(sessions, broadcast("root"), key) for key in ("0000", "1111"))


def test_an_unknown_admin_proves_nothing(omero_db, sessions):
    key = omero_db.open_session(ROOT, started=AT - HOUR)
    assert not proves(sessions, broadcast("mallory"), key)


def test_a_role_without_select_on_session_is_no_answer_and_shows_no_password(omero_db):
    checker = OmeroSessions(omero_db.bridge_dsn + " password=hunter2")
    with pytest.raises(SessionsUnavailable, match="permission denied for table session") as raised:
        proves(checker, broadcast("root"), "key")
    assert "hunter2" not in str(raised.value)


def test_a_database_that_cannot_be_reached_is_no_answer():
    with pytest.raises(SessionsUnavailable, match="cannot read OMERO's sessions from postgresql omero@127.0.0.1:1"):
        proves(OmeroSessions("host=127.0.0.1 port=1 user=omero dbname=omero"), broadcast("root"), "key")


def test_the_checker_reads_the_directory_s_database_and_none_without_one():
    assert omero_sessions(DirectorySettings("json", None, 60)) is None
    assert omero_sessions(DirectorySettings("postgres", None, 60, "host=db dbname=omero")).dsn == "host=db dbname=omero"
