"""OMERO's Blitz-0.log lines that are events, in OMERO's exact logback format."""

from __future__ import annotations

import pytest

from events.bridge.omerolog import events, parse

# %date %-5level [%40.40logger{40}] \(%10.10thread\) %msg%n  (OMERO's etc/logback.xml)
FAILED = "2026-12-02 10:15:03,114 WARN  [  ome.security.auth.LoginAttemptListener] (l.Server-7) " \
         "1 failed logins for alice. Throttling for 3000"
STARTED = "2026-12-02 09:00:41,870 INFO  [                ome.services.blitz.Entry] (      main) " \
          "OMERO.blitz now accepting connections."
STOPPING = "2026-12-02 18:00:02,005 INFO  [                ome.services.blitz.Entry] (RM handler) " \
           "Calling close on context OMERO.blitz"


def test_a_failed_login_line_is_a_login_failed_event_for_that_user():
    kind, data, when = parse(FAILED)
    assert (kind, data) == ("login.failed", {"user": "alice"})
    assert (when.hour, when.minute, when.second, when.microsecond) == (10, 15, 3, 114000)


def test_a_user_name_with_spaces_and_dots_is_kept_whole():
    line = FAILED.replace("for alice.", "for jean.dupont@lab x.")
    assert parse(line)[1] == {"user": "jean.dupont@lab x"}


def test_an_abbreviated_logger_name_is_still_recognised():
    line = FAILED.replace("ome.security.auth.LoginAttemptListener", "o.s.a.LoginAttemptListener")
    assert parse(line)[0] == "login.failed"


def test_the_server_accepting_connections_is_a_startup():
    kind, data, _ = parse(STARTED)
    assert kind == "server.startup" and data["server"].startswith("OMERO.blitz@")


def test_closing_the_server_context_is_a_shutdown():
    assert parse(STOPPING)[0] == "server.shutdown"


@pytest.mark.parametrize("line", [
    "2026-12-02 10:15:03,114 INFO  [  ome.security.auth.LoginAttemptListener] (l.Server-7) "
    "Resetting failed login count of 2 for alice",
    "2026-12-02 10:15:03,114 INFO  [        ome.services.util.ServiceHandler] (l.Server-7)  Rslt:\tfalse",
    "\tat ome.services.blitz.Entry.main(Entry.java:120)",
    "",
    "2026-12-02 10:15:03,114 DEBUG [                ome.services.blitz.Entry] (      main) "
    "OMERO.blitz now accepting connections.",
])
def test_other_lines_are_not_events(line):
    assert parse(line) is None


def test_the_same_line_gives_the_same_event_id_and_another_line_another():
    first = events([FAILED], "db-1", "bridge@host")
    again = events([FAILED], "db-1", "bridge@host")
    other = events([FAILED.replace(",114", ",115")], "db-1", "bridge@host")
    assert first[0].id == again[0].id != other[0].id


def test_events_keep_the_order_of_the_log():
    assert [e.type for e in events([STARTED, FAILED, STOPPING], "db", "s")] == [
        "server.startup", "login.failed", "server.shutdown"]
