"""OMERO.web errors through the queue: Django's real test client, the real broker and SMTP."""

from __future__ import annotations

import json
import os

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from django.test import Client, override_settings  # noqa: E402

from consumer import outcomes  # noqa: E402
from events import topology as topo  # noqa: E402
from events.broker import queue_depths  # noqa: E402

from .conftest import wait_for  # noqa: E402
from .faults import RefusingHandler, parked  # noqa: E402
from .services import free_port  # noqa: E402

ADMINS = '[["Web Admin", "webadmin@example.org"], ["Ops", "ops@example.org"]]'


@pytest.fixture
def site(props, tmp_path):
    """The Django site publishing to the test's vhost, spooling to a file of its own."""
    spool = tmp_path / "spool.jsonl"
    with override_settings(OMERO_MAIL_BROKER_URL=props["omero.mail.broker.url"], OMERO_MAIL_SPOOL=str(spool)):
        yield Client(raise_request_exception=False)


@pytest.fixture
def service(make_service, publish):
    # ``publish`` declares the topology, so an event published before the consumer is kept.
    return make_service(omero__web__admins=ADMINS)


def spooled(tmp_path):
    path = tmp_path / "spool.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_view_that_raises_mails_all_admins_in_one_mail(service, site, smtp_server):
    response = site.get("/fails/")
    assert response.status_code == 500
    [message] = smtp_server.wait_for_messages(1)
    assert smtp_server.received[0].rcpt_tos == ["webadmin@example.org", "ops@example.org"]
    assert message["To"] == "webadmin@example.org, ops@example.org"
    assert message["Subject"] == "[OMERO.web - admin notification]ERROR (EXTERNAL IP): Internal Server Error: /fails/"
    body = message.get_content()
    assert body.startswith("Internal Server Error: /fails/\n\nRuntimeError at /fails/\nthe image server went away\n")
    assert "Traceback (most recent call last)" in body and "Request Method: GET" in body


def test_a_report_hides_cookies_passwords_sessions_and_csrf_tokens(service, site, smtp_server):
    site.cookies["sessionid"] = "s3ss10n-value"
    site.cookies["csrftoken"] = "csrf-value"
    site.post("/fails/?bsession=omero-session-key&page=2", {"password": "hunter2", "name": "x"},
              HTTP_X_CSRFTOKEN="csrf-header-value", HTTP_AUTHORIZATION="Basic c2VjcmV0")
    body = smtp_server.wait_for_messages(1)[0].get_content()
    for secret in ("s3ss10n-value", "csrf-value", "omero-session-key", "hunter2", "csrf-header-value", "c2VjcmV0"):
        assert secret not in body
    assert "sessionid = '********************'" in body and "page=2" in body and "name = 'x'" in body


def test_a_report_hides_the_password_of_a_url_in_the_settings(service, site, smtp_server, props):
    site.get("/fails/")
    body = smtp_server.wait_for_messages(1)[0].get_content()
    hidden = props["omero.mail.broker.url"].replace(":guest@", ":********************@")
    assert f"OMERO_MAIL_BROKER_URL = '{hidden}'" in body


def test_a_404_with_a_referer_mails_the_admins_the_path(service, site, smtp_server):
    response = site.get("/missing/?page=2", HTTP_REFERER="http://testserver/page/")
    assert response.status_code == 404
    [message] = smtp_server.wait_for_messages(1)
    assert message["Subject"] == "[OMERO.web - admin notification]Broken INTERNAL link on testserver"
    assert message.get_content() == ("Referrer: http://testserver/page/\nRequested URL: /missing/?page=2\n"
                                     "User agent: <none>\nIP address: 127.0.0.1\n")


def test_an_admin_address_refused_by_the_server_is_parked_alone_and_the_others_get_the_mail(
        make_service, site, start_smtp, props):
    server = start_smtp(RefusingHandler({"ops@example.org": "550 5.1.1 No such user"}))
    make_service(omero__web__admins=ADMINS, omero__mail__port=str(server.port))
    site.get("/fails/")
    [message] = server.wait_for_messages(1)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: parked(url), what="the refused admin parked")
    [copy] = parked(url)
    assert server.received[0].rcpt_tos == ["webadmin@example.org"]
    assert message["To"] == "webadmin@example.org, ops@example.org"
    assert copy.message_id == message["Message-ID"] and list(copy.headers[outcomes.RECIPIENTS]) == ["ops@example.org"]
    assert "550" in copy.headers[outcomes.REASON]


def events_queued(props) -> int:
    return queue_depths(props["omero.mail.broker.url"], [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE]


def test_a_404_without_a_referer_is_not_reported(publish, site, props, tmp_path):
    site.get("/missing/")
    assert events_queued(props) == 0 and spooled(tmp_path) == []


def test_a_404_with_a_referer_is_published_before_the_response_returns(publish, site, props):
    site.get("/missing/", HTTP_REFERER="http://testserver/page/")
    assert events_queued(props) == 1


def test_debug_on_reports_nothing(publish, site, props, tmp_path):
    with override_settings(DEBUG=True):
        site.get("/fails/")
        site.get("/missing/", HTTP_REFERER="http://testserver/page/")
    assert events_queued(props) == 0 and spooled(tmp_path) == []


def test_a_broker_that_is_down_does_not_break_the_response_and_the_event_is_spooled(site, tmp_path):
    with override_settings(OMERO_MAIL_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"):
        response = site.get("/fails/")
        broken = site.get("/missing/", HTTP_REFERER="http://testserver/page/")
    assert (response.status_code, broken.status_code) == (500, 404)
    events = spooled(tmp_path)
    assert [(e["type"], e["data"]["status"]) for e in events] == [("web.error", 500), ("web.error", 404)]


def test_a_spooled_event_is_delivered_once_published(service, site, tmp_path, props, smtp_server, capsys):
    from consumer import cli

    with override_settings(OMERO_MAIL_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"):
        site.get("/fails/")
    config = tmp_path / "p.properties"
    config.write_text(f"omero.mail.broker.url={props['omero.mail.broker.url']}\n")
    assert cli.main(["publish-spool", str(tmp_path / "spool.jsonl"), "--config", str(config)]) == 0
    smtp_server.wait_for_messages(1)
    assert spooled(tmp_path) == []


def test_the_log_line_of_a_sent_report_masks_every_admin_address(service, site, smtp_server, caplog):
    with caplog.at_level("INFO", logger="consumer"):
        site.get("/fails/")
        smtp_server.wait_for_messages(1)
        wait_for(lambda: [r for r in caplog.records if r.getMessage().startswith("email sent")], what="the log line")
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("email sent")]
    assert "to=w***@example.org, o***@example.org" in line and "webadmin" not in line
