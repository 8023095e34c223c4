"""Hostile text in events reaches a real SMTP server without adding a header, a recipient
or a body part; what cannot be sent safely is parked with its reason. Real broker, real
aiosmtpd server, the whole consumer."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest

from events import topology as topo
from events.broker import Message, Publisher, queue_depths
from senders.mail import Mail

from .conftest import take_all, wait_for, write_directory

EVIL = ("\r\nBcc: victim@evil.example\r\nX-Injected: yes\r\n\r\n"
        "--boundary\r\nContent-Type: text/html\r\n\r\n<b>forged</b>")
ALL_ON = """<?xml version="1.0" encoding="UTF-8"?>
<mail-senders>
  <sender id="failedLoginMailSender" class="FailedLoginMailSender">
    <property name="contactSystem" value="true"/>
    <property name="onAllUsers" value="true"/>
  </sender>
  <sender id="serverUpMailSender" class="ServerUpMailSender"/>
</mail-senders>
"""
ADMINS = ["alice@example.org", "root@example.org"]


@pytest.fixture
def hostile_senders(tmp_path):
    folder = tmp_path / "hostile-senders"
    folder.mkdir()
    (folder / "mail-senders.xml").write_text(ALL_ON)
    return folder


def assert_clean(received, expected_recipients: list[str]) -> None:
    """One recipient per mail, the expected ones, no injected header, one text body."""
    assert sorted(r for mail in received for r in mail.rcpt_tos) == sorted(expected_recipients)
    for mail in received:
        message = message_from_bytes(mail.data, policy=policy.default)
        assert "Bcc" not in message and "X-Injected" not in message
        assert not [name for name, value in message.items() if name != "Subject" and "evil" in str(value)]
        assert not message.is_multipart()
        assert b"\r" not in mail.data.replace(b"\r\n", b"") and b"\n" not in mail.data.replace(b"\r\n", b"")


def test_a_user_name_with_line_breaks_in_a_failed_login_adds_no_header_or_recipient(
        make_service, publish, smtp_server, hostile_senders):
    make_service(omero__mail__senders__dir=str(hostile_senders))
    publish("login.failed", {"user": "root" + EVIL, "remote_addr": "192.0.2.7" + EVIL})
    messages = smtp_server.wait_for_messages(2)
    assert_clean(smtp_server.received, ADMINS)
    assert {m["Subject"] for m in messages} == {
        "[OMERO] Login failed for 'root Bcc: victim@evil.example X-Injected: yes --boundary "
        "Content-Type: text/html <b>forged</b>'"}


def test_a_web_path_with_line_breaks_in_a_web_error_adds_no_header_or_recipient(make_service, publish, smtp_server):
    make_service(omero__web__admins=json.dumps([["Root", "root@example.org"]]))
    publish("web.error", {"status": 500, "method": "GET", "path": "/webclient/" + EVIL, "exception": "KeyError" + EVIL})
    [message] = smtp_server.wait_for_messages(1)
    assert_clean(smtp_server.received, ["root@example.org"])
    assert message["Subject"].startswith("[OMERO.web - admin notification]ERROR (EXTERNAL IP)")


def test_a_broadcast_subject_and_copies_with_line_breaks_add_no_header_and_the_bad_copy_is_skipped(
        make_service, publish, smtp_server):
    make_service()
    publish("admin.broadcast", {"subject": "Maintenance" + EVIL, "body": "Tonight." + EVIL,
                                "user_names": ["carol"], "requested_by": "root",
                                "cc": ["alice@example.org" + EVIL, "root@example.org"]})
    smtp_server.wait_for_messages(2)
    assert_clean(smtp_server.received, ["carol@example.org", "root@example.org"])


def test_a_non_ascii_subject_and_body_arrive_intact(make_service, publish, smtp_server):
    make_service()
    publish("admin.broadcast", {"subject": "Wartung: Größe 日本 ✓", "body": "Ça marche — naïve café.\n",
                                "user_names": ["carol"], "requested_by": "root"})
    [message] = smtp_server.wait_for_messages(1)
    assert smtp_server.received[0].data.isascii()
    assert message["Subject"] == "Wartung: Größe 日本 ✓"
    assert message.get_content() == "Ça marche — naïve café.\n"


def test_a_from_display_name_hiding_another_address_is_parked_with_the_reason_and_never_sent(
        make_service, publish, smtp_server, props):
    make_service(omero__mail__from="OMERO" + EVIL + " <omero@example.org>")
    publish("server.startup")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 2, what="both mails parked")
    reasons = {headers["x-omero-mail-reason"] for headers, _ in take_all(url, topo.FAILED_QUEUE)}
    assert len(reasons) == 1 and "ambiguous sender" in reasons.pop()
    assert smtp_server.received == []


def test_an_invalid_address_in_the_directory_never_stops_the_others(make_service, publish, smtp_server, tmp_path):
    directory = write_directory(tmp_path / "evil-directory.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org" + EVIL, "groups": ["system", "user"]},
        {"id": 5, "omeName": "dave", "email": "dave@exämple.org", "groups": ["system", "user"]},
        {"id": 6, "omeName": "erin", "email": "erin@example.org", "groups": ["system", "user"]},
    ])
    make_service(omero__mail__directory__file=str(directory))
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    assert_clean(smtp_server.received, ["erin@example.org", "root@example.org"])


def test_an_outbox_mail_with_an_injected_recipient_is_parked_and_the_next_one_delivered(
        make_service, smtp_server, props):
    make_service()
    url = props["omero.mail.broker.url"]

    def outbox(n: int, to: str) -> Message:
        mail = Mail(message_id=f"<m{n}@example.org>", event_id=f"e{n}", event_type="admin.broadcast",
                    sender="adminBroadcast", mail_from="omero@example.org", to=to, subject="s", text="t\n")
        return Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, mail.to_json(), mail.message_id)

    with Publisher(url) as publisher:
        publisher.publish_many([outbox(1, "root@example.org>\r\nRCPT TO:<victim@evil.example"),
                                outbox(2, "carol@example.org")])
    smtp_server.wait_for_messages(1)
    wait_for(lambda: queue_depths(url, [topo.FAILED_QUEUE])[topo.FAILED_QUEUE] == 1, what="the bad mail parked")
    [(headers, _)] = take_all(url, topo.FAILED_QUEUE)
    assert "invalid recipient address" in headers["x-omero-mail-reason"]
    assert [r.rcpt_tos for r in smtp_server.received] == [["carol@example.org"]]
