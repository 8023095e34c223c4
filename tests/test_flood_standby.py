"""A rules stage that stops being the active one sends no digest; when it is active again its
windows are rebuilt from the state stream (consumer/memory/flood.py, consumer/memory/state.py)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import unquote, urlsplit

import pytest

from consumer.memory.dedupe import DuplicateFilter
from consumer.memory.state import RulesState
from senders.flood import FloodGuard, FloodRule, change

from .conftest import wait_for
from .test_flood_guard import Clock, login_failed, mails_for
from .test_flood_storm import FAILED_LOGIN_SENDER, publish_failed_logins

#: The fold window: it must outlast the whole hand-over (rabbitmqctl closing the first stage's
#: connection, its reconnect, the fourth event reaching the second stage), which under load takes
#: several seconds; a window that ended first would mail the fourth event instead of folding it.
WINDOW = 20.0
SINGLE = "[OMERO] Login failed for 'root'"


@pytest.fixture
def failed_login_senders(tmp_path):
    folder = tmp_path / "failed-login-senders"
    folder.mkdir()
    (folder / "mail-senders.xml").write_text(FAILED_LOGIN_SENDER)
    return folder


def connections(rabbitmq, url: str) -> list[str]:
    """The broker's ids of the connections open on the URL's vhost."""
    vhost = unquote(urlsplit(url).path.lstrip("/"))
    listed = rabbitmq.ctl("list_connections", "-q", "--no-table-headers", "vhost", "pid").stdout.decode()
    return [pid for name, _, pid in (line.partition("\t") for line in listed.splitlines()) if name == vhost]


def test_a_rules_stage_that_lost_its_connection_leaves_the_digest_to_the_active_one(
        make_service, smtp_server, props, failed_login_senders, rabbitmq):
    url = props["omero.mail.broker.url"]
    # No activity reports: their connection would be a second one of the first stage's.
    rules = dict(stages=("rules",), omero__mail__senders__dir=str(failed_login_senders),
                 omero__mail__flood__window=f"{WINDOW:g}s", omero__mail__flood__threshold="1",
                 omero__mail__activity__interval="0")
    first = make_service(**rules)
    [first_connection] = wait_for(lambda: (found := connections(rabbitmq, url)) and len(found) == 1 and found,
                                  what="the first rules stage's connection alone")
    second = make_service(**rules)
    make_service(stages=("delivery",))

    publish_failed_logins(url, 3)  # the first stage is active: one mail per admin, two folded
    assert first.service.rules is not None and first.service.rules.state is not None
    wait_for(lambda: len(first.service.rules.state.dedupe) == 3, what="the three events recorded")
    rabbitmq.ctl("close_connection", first_connection, "test: the active rules stage loses its connection")
    wait_for(lambda: first.service.consumer.reconnects and first.service.consumer.connected.is_set(),
             what="the first stage back, standing by")

    publish_failed_logins(url, 1)  # the second stage, active now, catches up and folds it
    assert second.service.rules is not None and second.service.rules.flood is not None
    wait_for(lambda: second.service.rules.flood.guard.folded() == 3, what="the second stage's count carried on")
    smtp_server.wait_for_messages(4, timeout=WINDOW + 10)
    time.sleep(2.0)  # both stages' timers were due together: room for a second digest to arrive
    subjects = sorted(m["Subject"] for m in smtp_server.messages)
    assert subjects == [SINGLE, SINGLE, f"{SINGLE} (3 more)", f"{SINGLE} (3 more)"]


def test_a_rules_stage_that_lost_its_connection_and_runs_alone_still_sends_its_digest_at_a_stop(
        make_service, smtp_server, props, failed_login_senders, rabbitmq):
    url = props["omero.mail.broker.url"]
    alone = make_service(stages=("rules",), omero__mail__senders__dir=str(failed_login_senders),
                         omero__mail__flood__window="1h", omero__mail__flood__threshold="1",
                         omero__mail__activity__interval="0")
    [connection] = wait_for(lambda: (found := connections(rabbitmq, url)) and len(found) == 1 and found,
                            what="the rules stage's connection alone")
    make_service(stages=("delivery",))
    publish_failed_logins(url, 3)
    assert alone.service.rules is not None and alone.service.rules.state is not None
    wait_for(lambda: len(alone.service.rules.state.dedupe) == 3, what="the three events recorded")
    rabbitmq.ctl("close_connection", connection, "test: the rules stage loses its connection")
    wait_for(lambda: alone.service.consumer.reconnects and alone.service.consumer.connected.is_set(),
             what="the rules stage back, with no event to tell it that it is the active one")
    alone.stop()
    subjects = sorted(m["Subject"] for m in smtp_server.wait_for_messages(4))
    assert subjects == [SINGLE, SINGLE, f"{SINGLE} (2 more)", f"{SINGLE} (2 more)"]


class Stream:
    """The state stream as a list: ``read`` as :func:`events.broker.catch_up` reads the real one."""

    def __init__(self) -> None:
        self.records: list[bytes] = []

    def read(self, _url, _stream, start, on_record) -> int:
        first = 0 if isinstance(start, datetime) else start
        for offset in range(first, len(self.records)):
            on_record(offset, self.records[offset])
        return len(self.records)


def test_a_stage_active_again_counts_an_event_whose_record_was_lost_once():
    clock = Clock()
    rules = {"login.failed": FloodRule(("user",), window=600, threshold=1)}
    guard = FloodGuard(rules, clock)
    stream = Stream()
    state = RulesState("", DuplicateFilter(86_400, 1000, clock), guard, 86_400, read=stream.read, clock=clock)
    state.catch_up()
    events = [login_failed() for _ in range(4)]
    for event in events:
        folded = not guard.admit(event, mails_for(event))
        if event is not events[-1]:  # the last one's record never reached the stream: its connection was lost
            record = state.event_record(event.id, "rules", change(guard.window_of(event), event, folded))
            stream.records.append(record.body)
    # The stage active meanwhile took the last event again, and counted it.
    elsewhere = FloodGuard(rules, clock)
    for body in stream.records:
        elsewhere.restore(json.loads(body)["f"])
    elsewhere.admit(events[-1], mails_for(events[-1]))
    stream.records.append(json.dumps({"w": "another stage", "t": clock(), "id": events[-1].id,
                                      "f": change(elsewhere.window_of(events[-1]), events[-1], True)}).encode())
    state.catch_up()
    [window] = guard.drain()
    assert (window.mailed, window.folded) == (1, 3)
