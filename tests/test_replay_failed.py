"""``omero-mail failed`` / ``invalid``: list without taking, replay exactly the chosen, purge on confirmation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from consumer import outcomes

from consumer.admin import parking
from events import topology as topo
from events.broker import Parked, QueueBrowser, queue_depths

from .conftest import wait_for
from .faults import RefusingHandler, outbox_mail, parked, publish_mails

REFUSED = {"root@example.org": "550 5.1.1 No such user", "alice@example.org": "550 5.1.1 No such user"}


def omero_mail(url, *args):
    env = dict(os.environ, OMERO_MAIL_BROKER_URL=url)
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def parked_mails(make_service, start_smtp, props):
    """Three mails to root and three to alice, all refused with 550 and parked; the server then fixed."""
    server = start_smtp(RefusingHandler(REFUSED))
    make_service(omero__mail__port=str(server.port))
    url = props["omero.mail.broker.url"]
    mails = publish_mails(url, [outbox_mail(to) for to in ["root@example.org", "alice@example.org"] * 3])
    wait_for(lambda: len(parked(url)) == 6, what="six mails parked")
    server.handler.refuse.clear()
    return server, url, mails


def test_list_shows_every_parked_mail_and_takes_none_off(parked_mails):
    _server, url, mails = parked_mails
    result = omero_mail(url, "failed", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert sorted(e["message_id"] for e in listed) == sorted(m.message_id for m in mails)
    assert {e["attempts"] for e in listed} == {1} and all("550" in e["error"] for e in listed)
    assert queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 6


def test_list_filters_by_recipient_and_prints_a_table(parked_mails):
    _server, url, _mails = parked_mails
    result = omero_mail(url, "failed", "list", "--recipient", "alice")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "WHEN", "SENDER"]
    assert len(lines) == 4 and all("alice@example.org" in line for line in lines[1:])


def test_show_prints_one_parked_mail_by_the_start_of_its_id(parked_mails):
    _server, url, mails = parked_mails
    result = omero_mail(url, "failed", "show", mails[0].message_id.strip("<>")[:12], "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["message_id"] == mails[0].message_id and shown["body"]["to"] == mails[0].to


def test_replay_by_recipient_delivers_exactly_those_with_their_message_ids(parked_mails):
    server, url, mails = parked_mails
    result = omero_mail(url, "failed", "replay", "--recipient", "alice@example.org")
    assert result.returncode == 0, result.stderr
    assert "replayed 3 message(s)" in result.stdout
    server.wait_for_messages(3)
    wait_for(lambda: queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 0, what="the outbox drained")
    alice = {m.message_id for m in mails if m.to == "alice@example.org"}
    assert sorted(m["Message-ID"] for m in server.messages) == sorted(alice)
    assert {p.headers[outcomes.RECIPIENT] for p in parked(url)} == {"root@example.org"}


def test_replay_dry_run_changes_nothing(parked_mails):
    server, url, _mails = parked_mails
    result = omero_mail(url, "failed", "replay", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would replay 6 of 6" in result.stdout
    assert queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 6 and server.received == []


def test_a_replay_interrupted_and_run_again_loses_and_duplicates_nothing(parked_mails):
    server, url, mails = parked_mails

    class Crash(Exception):
        pass

    moved = []

    def crash_after_two():
        moved.append(1)
        if len(moved) == 2:
            raise Crash

    with pytest.raises(Crash), QueueBrowser(url, topo.FAILED_QUEUE) as browser:
        choice = parking.choose(parking.FAILED, [parking.entry(p) for p in browser.messages()], replaying=True)
        parking.replay(browser, choice, browser.take(choice.keys), crash_after_two)
    assert queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 4
    result = omero_mail(url, "failed", "replay")
    assert result.returncode == 0, result.stderr
    assert "replayed 4 message(s)" in result.stdout
    server.wait_for_messages(6)
    wait_for(lambda: queue_depths(url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 0, what="the outbox drained")
    assert Counter(m["Message-ID"] for m in server.messages) == Counter(m.message_id for m in mails)


def test_a_replayed_mail_starts_again_with_no_attempts_and_keeps_its_owed_recipients():
    mail = outbox_mail("root@example.org")
    copy = parking.replay_to_outbox(Parked(1, mail.to_json(), mail.message_id, {
        outcomes.ATTEMPTS: 3, outcomes.REASON: "550", outcomes.RECIPIENTS: ["bob@example.org"],
        outcomes.PARKED_AT: "2026-11-23T10:00:00+00:00", "x-death": [{"queue": "omero.mail.retry.1s"}],
    }, "failed", "application/json"))
    assert copy.message_id == mail.message_id and copy.routing_key == topo.OUTBOX_KEY
    assert outcomes.ATTEMPTS not in copy.headers and outcomes.REASON not in copy.headers
    assert "x-death" not in copy.headers and copy.headers[outcomes.RECIPIENTS] == ["bob@example.org"]


def test_purge_without_a_terminal_or_yes_refuses_with_one_line(parked_mails):
    _server, url, _mails = parked_mails
    result = omero_mail(url, "failed", "purge")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "--yes" in result.stderr
    assert queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 6


def test_purge_with_yes_deletes_only_the_matching_mails(parked_mails):
    _server, url, _mails = parked_mails
    result = omero_mail(url, "failed", "purge", "--recipient", "root@", "--yes")
    assert result.returncode == 0, result.stderr
    assert "purged 3 message(s)" in result.stdout
    assert {p.headers[outcomes.RECIPIENT] for p in parked(url)} == {"alice@example.org"}


def test_an_invalid_event_is_replayed_to_omero_events_with_its_routing_key(make_service, publish, props):
    url = props["omero.mail.broker.url"]
    service = make_service(stages=("rules",))
    publish("x", raw=b'{"id": "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87", "type": "image.deleted", '
                     b'"occurred_at": "2026-11-23T10:00:00+00:00", "data": {}}', routing_key="image.deleted")
    wait_for(lambda: parked(url, topo.INVALID_QUEUE), what="the event parked")
    service.stop()
    listed = json.loads(omero_mail(url, "invalid", "list", "--json").stdout)
    assert [e["routing_key"] for e in listed] == ["image.deleted"] and listed[0]["sender"] == "image.deleted"
    result = omero_mail(url, "invalid", "replay")
    assert result.returncode == 0, result.stderr
    with QueueBrowser(url, topo.EVENTS_QUEUE) as browser:
        [event] = browser.messages()
    assert event.routing_key == "image.deleted" and outcomes.REASON not in event.headers
    assert parked(url, topo.INVALID_QUEUE) == []


def test_since_takes_a_date_or_an_age():
    assert parking.parse_since("2026-11-23").isoformat() == "2026-11-23T00:00:00+00:00"
    assert parking.parse_since("2h") < parking.parse_since("1h")
    with pytest.raises(ValueError):
        parking.parse_since("yesterday")


def test_a_bad_since_is_a_usage_error(amqp_url):
    result = omero_mail(amqp_url, "failed", "list", "--since", "yesterday")
    assert result.returncode == 2 and "not a date or an age" in result.stderr
