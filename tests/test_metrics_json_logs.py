"""``--log-format json``: one line per email outcome, its identifiers as fields."""

from __future__ import annotations

import json
import logging

from consumer.admin.cli import _JsonFormatter

from .conftest import wait_for


def sent_lines(caplog) -> list[dict]:
    formatter = _JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.getMessage().startswith("email sent")]


def test_a_sent_email_logs_its_event_sender_message_id_and_masked_recipient_as_json_fields(make_service, publish,
                                                                                            smtp_server, caplog):
    caplog.set_level(logging.INFO, logger="consumer.stages.delivery")
    make_service()
    event = publish("server.startup")
    messages = smtp_server.wait_for_messages(2)
    # The stage logs an email's line once the server's reply is back: a moment after the server has it.
    lines = wait_for(lambda: len(sent_lines(caplog)) == 2 and sent_lines(caplog), what="both sent lines logged")
    assert sorted(line["recipient"] for line in lines) == ["a***@example.org", "r***@example.org"]
    assert {line["event_id"] for line in lines} == {event.id}
    assert {line["sender"] for line in lines} == {"serverUpMailSender"}
    assert {line["message_id"] for line in lines} == {m["Message-ID"] for m in messages}


def test_the_recipient_is_logged_in_full_when_omero_mail_log_addresses_is_true(make_service, publish, smtp_server,
                                                                                caplog):
    caplog.set_level(logging.INFO, logger="consumer.stages.delivery")
    make_service(omero__mail__log__addresses="true")
    publish("server.startup")
    smtp_server.wait_for_messages(2)
    lines = wait_for(lambda: len(sent_lines(caplog)) == 2 and sent_lines(caplog), what="both sent lines logged")
    assert sorted(line["recipient"] for line in lines) == ["alice@example.org", "root@example.org"]
