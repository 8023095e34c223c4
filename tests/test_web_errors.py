"""OMERO.web errors through the queue: Django's real test client, the real broker and SMTP."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from django.test import Client, override_settings  # noqa: E402

from consumer import outcomes  # noqa: E402
from events import topology as topo  # noqa: E402
from events.broker import queue_depths  # noqa: E402
from events.web import publish as web_publish  # noqa: E402

from .conftest import wait_for  # noqa: E402
from .faults import RefusingHandler, parked  # noqa: E402
from .services import free_port  # noqa: E402

ADMINS = '[["Web Admin", "webadmin@example.org"], ["Ops", "ops@example.org"]]'
#: OMERO_MAIL_PUBLISH_TIMEOUT in the tests of a blocked broker: what a report may take at most.
BOUND = 1.0


@pytest.fixture(autouse=True)
def publisher_thread_stopped():
    """Each test's reports go to its own vhost: the web process's publisher thread ends with the test."""
    yield
    web_publish.stop()


@pytest.fixture
def memory_alarm(private_rabbitmq):
    """The private node blocks every publisher, as RabbitMQ does on a memory alarm."""
    ctl = private_rabbitmq.ctl
    watermark = ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").stdout.decode().strip()
    float(watermark)  # a relative watermark, restored for the next test on the private node
    ctl("set_vm_memory_high_watermark", "0.0000001")
    try:
        yield
    finally:
        ctl("set_vm_memory_high_watermark", watermark)


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


def test_a_404_with_a_referer_is_published_right_after_the_response(publish, site, props):
    site.get("/missing/", HTTP_REFERER="http://testserver/page/")
    wait_for(lambda: events_queued(props) == 1, timeout=30, what="the event published")


@pytest.mark.private_broker
def test_a_storm_of_broken_links_is_published_over_one_connection(publish, site, props, private_rabbitmq):
    for n in range(20):
        site.get(f"/missing/{n}/", HTTP_REFERER="http://testserver/page/")
    wait_for(lambda: events_queued(props) == 20, timeout=30, what="20 events published")
    vhost = unquote(props["omero.mail.broker.url"].rsplit("/", 1)[1])
    listed = private_rabbitmq.ctl("-q", "list_connections", "vhost", "client_properties").stdout.decode()
    web = [line for line in listed.splitlines()
           if line.startswith(vhost + "\t") and '{"connection_name","omero-web"}' in line]
    assert len(web) == 1


@pytest.mark.private_broker
def test_a_broker_blocked_by_a_memory_alarm_holds_no_request_and_the_event_is_spooled_within_the_bound(
        publish, site, tmp_path, memory_alarm):
    with override_settings(OMERO_MAIL_PUBLISH_TIMEOUT=BOUND):
        started = time.monotonic()
        response = site.get("/fails/")
        answered = time.monotonic() - started
        wait_for(lambda: spooled(tmp_path), timeout=BOUND + 10, what="the event spooled")
        landed = time.monotonic() - started
    assert response.status_code == 500 and answered < BOUND
    assert landed < BOUND + 1.0
    assert [(e["type"], e["data"]["status"]) for e in spooled(tmp_path)] == [("web.error", 500)]


@pytest.mark.private_broker
def test_concurrent_errors_on_a_blocked_broker_are_not_reported_in_turn(publish, props, tmp_path, memory_alarm):
    def one_request(_n: int) -> float:
        started = time.monotonic()
        Client(raise_request_exception=False).get("/fails/")
        return time.monotonic() - started

    with override_settings(OMERO_MAIL_BROKER_URL=props["omero.mail.broker.url"], OMERO_MAIL_PUBLISH_TIMEOUT=BOUND,
                           OMERO_MAIL_SPOOL=str(tmp_path / "spool.jsonl")):
        with ThreadPoolExecutor(4) as pool:
            answered = list(pool.map(one_request, range(4)))
        wait_for(lambda: len(spooled(tmp_path)) == 4, timeout=BOUND + 20, what="4 events spooled")
    assert max(answered) < BOUND


def test_a_session_key_in_the_login_redirect_of_a_broken_link_is_not_mailed(service, site, smtp_server):
    site.get("/webclient/login/?url=%2Fwebclient%2F%3Fbsession%3Domero-session-key%26show%3Dimage-1",
             HTTP_REFERER="http://testserver/webclient/?bsession=omero-session-key")
    body = smtp_server.wait_for_messages(1)[0].get_content()
    assert "omero-session-key" not in body and "show%3Dimage-1" in body


def test_debug_on_reports_nothing(publish, site, props, tmp_path):
    with override_settings(DEBUG=True):
        site.get("/fails/")
        site.get("/missing/", HTTP_REFERER="http://testserver/page/")
    assert events_queued(props) == 0 and spooled(tmp_path) == []


def test_a_broker_that_is_down_does_not_break_the_response_and_the_event_is_spooled(site, tmp_path):
    with override_settings(OMERO_MAIL_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"):
        response = site.get("/fails/")
        broken = site.get("/missing/", HTTP_REFERER="http://testserver/page/")
        wait_for(lambda: len(spooled(tmp_path)) == 2, timeout=30, what="both events spooled")
    assert (response.status_code, broken.status_code) == (500, 404)
    events = spooled(tmp_path)
    assert [(e["type"], e["data"]["status"]) for e in events] == [("web.error", 500), ("web.error", 404)]


def test_a_spooled_event_is_delivered_once_published(service, site, tmp_path, props, smtp_server, capsys):
    from consumer.admin import cli

    with override_settings(OMERO_MAIL_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"):
        site.get("/fails/")
        wait_for(lambda: spooled(tmp_path), timeout=30, what="the event spooled")
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
