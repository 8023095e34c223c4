"""A brute-force attack on root does not flood the admins: real broker, real SMTP server."""

from __future__ import annotations

import json
import re

import pytest

from events import topology as topo
from events.broker import Message, Publisher, queue_depths
from events.schemas import new_event

from .conftest import wait_for

FAILED_LOGIN_SENDER = """<?xml version="1.0" encoding="UTF-8"?>
<mail-senders>
  <sender id="failedLoginMailSender" class="FailedLoginMailSender">
    <property name="contactSystem" value="true"/>
    <property name="onSpecificUsers" value="root"/>
  </sender>
</mail-senders>
"""
ATTEMPTS = 1000
SOURCES = ["192.0.2.7", "198.51.100.23", "203.0.113.99"]


@pytest.fixture
def failed_login_senders(tmp_path):
    folder = tmp_path / "failed-login-senders"
    folder.mkdir()
    (folder / "mail-senders.xml").write_text(FAILED_LOGIN_SENDER)
    return folder


def publish_failed_logins(url: str, count: int) -> None:
    with Publisher(url) as publisher:
        events = [new_event("login.failed", {"user": "root", "remote_addr": SOURCES[n % len(SOURCES)]}, "tests")
                  for n in range(count)]
        publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id) for e in events])


def test_a_thousand_failed_logins_for_root_make_three_mails_and_one_digest_per_admin(
        make_service, smtp_server, props, failed_login_senders, publish):
    make_service(omero__mail__senders__dir=str(failed_login_senders),
                 omero__mail__flood__window="30s", omero__mail__flood__threshold="3")
    publish_failed_logins(props["omero.mail.broker.url"], ATTEMPTS)
    admins = ["alice@example.org", "root@example.org"]
    messages = smtp_server.wait_for_messages(2 * 4, timeout=90)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
             what="every event and mail handled")
    messages = smtp_server.messages
    assert len(messages) == 8
    for admin in admins:
        mine = [m for m in messages if m["To"] == admin]
        singles = [m for m in mine if m["Subject"] == "[OMERO] Login failed for 'root'"]
        digests = [m for m in mine if m not in singles]
        assert len(singles) == 3 and len(digests) == 1
        assert digests[0]["Subject"] == f"[OMERO] Login failed for 'root' ({ATTEMPTS - 3} more)"
        body = digests[0].get_content()
        assert f"{ATTEMPTS - 3} more login.failed event(s) with user=root" in body
        counted = {address: int(n) for address, n in re.findall(r"^  (\S+): (\d+)$", body, re.M)}
        assert set(counted) == set(SOURCES) and sum(counted.values()) == ATTEMPTS - 3


def test_a_digest_still_owed_is_sent_when_the_consumer_stops(make_service, smtp_server, props, failed_login_senders):
    running = make_service(omero__mail__senders__dir=str(failed_login_senders),
                           omero__mail__flood__window="1h", omero__mail__flood__threshold="1")
    publish_failed_logins(props["omero.mail.broker.url"], 5)
    smtp_server.wait_for_messages(2)
    guard = running.service.rules.flood.guard
    wait_for(lambda: guard.folded() == 4, what="four events folded")
    running.stop()
    make_service(stages=("delivery",))
    messages = smtp_server.wait_for_messages(4)
    assert sorted(m["Subject"] for m in messages).count("[OMERO] Login failed for 'root' (4 more)") == 2


def test_a_storm_of_identical_web_errors_becomes_one_mail_and_one_digest_with_the_count(
        make_service, smtp_server, props):
    make_service(omero__web__admins=json.dumps([["Root", "root@example.org"]]),
                 omero__mail__flood__web__error__window="3s", omero__mail__flood__web__error__threshold="1")
    error = {"status": 500, "method": "GET", "path": "/webclient/load_data/", "exception": "KeyError: 'image'",
             "remote_addr": "192.0.2.7"}
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        events = [new_event("web.error", error, "tests") for _ in range(20)]
        events.append(new_event("web.error", {**error, "path": "/webgateway/"}, "tests"))
        publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id) for e in events])
    messages = smtp_server.wait_for_messages(3)
    subjects = sorted(m["Subject"] for m in messages)
    assert subjects == [
        "[OMERO.web - admin notification]ERROR (EXTERNAL IP): Internal Server Error: /webclient/load_data/",
        "[OMERO.web - admin notification]ERROR (EXTERNAL IP): Internal Server Error: /webclient/load_data/ "
        "(19 more)",
        "[OMERO.web - admin notification]ERROR (EXTERNAL IP): Internal Server Error: /webgateway/",
    ]
