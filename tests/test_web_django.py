"""OMERO.web's error mails side by side: stock Django and omero-mail on the very same request.

Stock: Django's ``AdminEmailHandler`` on ``django.request`` and its
``BrokenLinkEmailsMiddleware``, configured as OMERO.web configures them (``ADMINS`` and
``MANAGERS`` from ``omero.web.admins``, ``SERVER_EMAIL`` from ``omero.mail.from``,
``EMAIL_SUBJECT_PREFIX`` from ``omero.web.admins.email_subject_prefix``), mailing into
Django's locmem backend (``django.core.mail.outbox``). Ours: the hooks beside them on
the same request, the real broker, the consumer, and an aiosmtpd server. Both must
give the same subject, sender, recipients and body, apart from what ours hides.

The Django installed in the test environment is the reference; each test names the
lines it follows.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
from unittest import mock

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from django.core import mail  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils.log import AdminEmailHandler  # noqa: E402

from events.web import publish as web_publish  # noqa: E402
from events.web.report import HIDDEN  # noqa: E402
from senders.weberror import DEFAULT_PREFIX  # noqa: E402

ADMINS = [["Web Admin", "webadmin@example.org"], ["Ops", "ops@example.org"]]
#: Both reports are rendered within the same log call; one clock keeps "Server time" equal.
NOW = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture(autouse=True)
def publisher_thread_stopped():
    """Each test's reports go to its own vhost: the web process's publisher thread ends with the test."""
    yield
    web_publish.stop()


@pytest.fixture
def service(make_service, publish):
    # ``publish`` declares the topology, so an event published before the consumer is kept.
    return make_service(omero__web__admins=json.dumps(ADMINS))


@pytest.fixture
def site(props, tmp_path):
    """The test site with stock Django's mail path and ours both on, Django's mail kept in its outbox."""
    stock = AdminEmailHandler()
    logger = logging.getLogger("django.request")
    logger.addHandler(stock)
    mail.outbox = []
    admins = [tuple(pair) for pair in ADMINS]
    try:
        with override_settings(
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                ADMINS=admins, MANAGERS=admins, SERVER_EMAIL=props["omero.mail.from"],
                EMAIL_SUBJECT_PREFIX=DEFAULT_PREFIX,
                MIDDLEWARE=["django.middleware.common.BrokenLinkEmailsMiddleware",
                            "events.web.middleware.BrokenLinkEventsMiddleware"],
                OMERO_MAIL_BROKER_URL=props["omero.mail.broker.url"], OMERO_MAIL_SPOOL=str(tmp_path / "spool")), \
                mock.patch("django.utils.timezone.now", return_value=NOW):
            yield Client(raise_request_exception=False)
    finally:
        logger.removeHandler(stock)


def side_by_side(smtp_server):
    """(Django's message, ours as the SMTP server got it, our envelope)."""
    [ours] = smtp_server.wait_for_messages(1)
    [stock] = mail.outbox
    return stock, ours, smtp_server.received[0]


def assert_same_apart_from_redactions(ours: str, stock: str) -> None:
    """Line for line equal, but where ours shows Django's stars in place of a value."""
    ours_lines, stock_lines = ours.split("\n"), stock.split("\n")
    assert len(ours_lines) == len(stock_lines)
    for mine, theirs in zip(ours_lines, stock_lines, strict=True):
        if mine != theirs:
            assert HIDDEN in mine, (mine, theirs)
            pieces = re.split("'?" + re.escape(HIDDEN) + "'?", mine)
            assert re.fullmatch(".+?".join(re.escape(piece) for piece in pieces), theirs), (mine, theirs)


def test_a_500_is_one_mail_to_all_admins_with_djangos_subject_sender_and_recipients(service, site, smtp_server):
    """django/utils/log.py:104-116 (the subject) and django/core/mail/__init__.py:130-139 (mail_admins)."""
    site.get("/fails/")
    stock, ours, envelope = side_by_side(smtp_server)
    assert ours["Subject"] == stock.subject == (
        "[OMERO.web - admin notification]ERROR (EXTERNAL IP): Internal Server Error: /fails/")
    assert ours["From"] == stock.from_email
    assert ours["To"] == stock.message()["To"] == "webadmin@example.org, ops@example.org"
    assert envelope.rcpt_tos == stock.recipients() and len(smtp_server.received) == 1


def test_a_500_body_is_djangos_text_technical_report(service, site, smtp_server):
    """django/utils/log.py:129-133: "%s\\n\\n%s" % (self.format(record), reporter.get_traceback_text());
    the report from django/views/debug.py:431-436 (ExceptionReporter.get_traceback_text)."""
    site.get("/fails/?page=2")
    stock, ours, _ = side_by_side(smtp_server)
    body = ours.get_content()
    assert body.startswith("Internal Server Error: /fails/\n\nRuntimeError at /fails/\n")
    # The only secret of this request is the broker URL's password, in the settings.
    assert_same_apart_from_redactions(body, stock.body)
    assert [line for line in body.split("\n") if HIDDEN in line and line not in stock.body.split("\n")] == [
        line for line in body.split("\n") if line.startswith("OMERO_MAIL_BROKER_URL = ")]


def test_a_500_body_differs_from_djangos_only_where_a_secret_is_hidden(service, site, smtp_server):
    """django/views/debug.py:386-411 (get_traceback_data): GET, POST, COOKIES and META, ours redacted."""
    site.cookies["sessionid"] = "s3ss10n-value"
    site.cookies["lang"] = "en"
    site.post("/fails/?bsession=omero-session-key&page=2", {"password": "hunter2", "name": "x"},
              HTTP_X_CSRFTOKEN="csrf-header-value", HTTP_AUTHORIZATION="Basic c2VjcmV0",
              HTTP_REFERER="http://testserver/webclient/?token=t0k3n")
    stock, ours, _ = side_by_side(smtp_server)
    body = ours.get_content()
    assert_same_apart_from_redactions(body, stock.body)
    for secret in ("s3ss10n-value", "omero-session-key", "hunter2", "csrf-header-value", "c2VjcmV0", "t0k3n"):
        assert secret not in body
    assert "lang = '********************'" in body and "lang = 'en'" in stock.body


def test_a_404_is_djangos_broken_link_mail_with_the_path(service, site, smtp_server):
    """django/middleware/common.py:121-142 (BrokenLinkEmailsMiddleware.process_response): get_full_path()."""
    site.get("/missing/?page=2", HTTP_REFERER="http://testserver/page/", HTTP_USER_AGENT="Mozilla/5.0")
    stock, ours, envelope = side_by_side(smtp_server)
    assert ours["Subject"] == stock.subject == "[OMERO.web - admin notification]Broken INTERNAL link on testserver"
    assert ours["From"] == stock.from_email and envelope.rcpt_tos == stock.recipients()
    assert ours.get_content() == stock.body == (
        "Referrer: http://testserver/page/\nRequested URL: /missing/?page=2\n"
        "User agent: Mozilla/5.0\nIP address: 127.0.0.1\n")


def test_a_404_differs_from_djangos_only_in_the_hidden_session_key(service, site, smtp_server):
    """django/middleware/common.py:139-140, the query's session key hidden."""
    site.get("/missing/?bsession=omero-session-key&page=2", HTTP_REFERER="http://elsewhere.example/")
    stock, ours, _ = side_by_side(smtp_server)
    assert ours["Subject"] == stock.subject == "[OMERO.web - admin notification]Broken link on testserver"
    body = ours.get_content()
    assert "omero-session-key" not in body and "omero-session-key" in stock.body
    assert_same_apart_from_redactions(body, stock.body)
