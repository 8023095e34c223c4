"""An OMERO event published to RabbitMQ becomes emails at a real SMTP server."""

from __future__ import annotations

import json

from events import topology as topo
from events.broker import queue_depths

from .conftest import take_all, wait_for


def test_server_startup_mails_each_system_member_with_an_address_once(make_service, publish, smtp_server):
    make_service()
    publish("server.startup", {"server": "omero-1"})
    messages = smtp_server.wait_for_messages(2)
    assert sorted(m["To"] for m in messages) == ["alice@example.org", "root@example.org"]
    for message in messages:
        assert message["From"] == "omero@example.org"
        assert message["Subject"] == "[OMERO] Server started"
        assert message.get_content() == "Automated email sent by the OMERO server.\n"
        assert message["Message-ID"]


def test_server_shutdown_has_omeros_subject(make_service, publish, smtp_server):
    make_service()
    publish("server.shutdown")
    messages = smtp_server.wait_for_messages(2)
    assert {m["Subject"] for m in messages} == {"[OMERO] Server shutdown"}


def test_each_mail_has_one_recipient_in_header_and_envelope(make_service, publish, smtp_server):
    make_service()
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    assert sorted(tuple(r.rcpt_tos) for r in smtp_server.received) == [("alice@example.org",), ("root@example.org",)]


def test_a_system_member_without_email_gets_nothing(make_service, publish, smtp_server):
    make_service()
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    publish("server.shutdown")
    smtp_server.wait_for_messages(4)
    recipients = [r for received in smtp_server.received for r in received.rcpt_tos]
    assert len(recipients) == 4 and not any("bob" in r or "guest" in r for r in recipients)


def test_an_invalid_event_is_parked_with_its_reason_and_the_next_one_still_delivered(make_service, publish,
                                                                                      smtp_server, props):
    make_service()
    publish("server.startup", raw=b'{"id": "not-a-uuid", "type": "server.startup"}')
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the invalid event parked")
    [(headers, body)] = take_all(url, topo.INVALID_QUEUE)
    assert json.loads(body)["id"] == "not-a-uuid"
    reason = headers["x-omero-mail-reason"]
    assert "id" in reason and "UUID" in reason


def test_an_event_of_unknown_type_is_parked(make_service, publish, props):
    make_service()
    publish("x", raw=b'{"id": "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87", "type": "image.deleted", '
                     b'"occurred_at": "2026-11-23T10:00:00+00:00", "data": {}}', routing_key="image.deleted")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the event parked")


def test_event_senders_send_nothing_when_omero_mail_config_is_false(make_service, publish, smtp_server, props):
    make_service(omero__mail__config="false")
    publish("server.startup")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
             what="the event consumed")
    assert smtp_server.received == []


def test_a_large_fan_out_is_published_in_slices_and_every_mail_arrives_once(make_service, publish, smtp_server,
                                                                            tmp_path, monkeypatch):
    from consumer.stages import rules as rules_stage

    from .conftest import write_directory

    monkeypatch.setattr(rules_stage, "PUBLISH_SLICE", 7)
    admins = [{"id": n, "omeName": f"admin{n}", "email": f"admin{n}@example.org", "groups": ["system", "user"]}
              for n in range(23)]
    make_service(omero__mail__directory__file=str(write_directory(tmp_path / "many.json", admins)))
    publish("server.startup")
    messages = smtp_server.wait_for_messages(23)
    assert sorted(m["To"] for m in messages) == sorted(a["email"] for a in admins)
