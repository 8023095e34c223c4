"""The web error sender (senders/weberror.py): Django's subjects and bodies, OMERO.web's admins."""

from __future__ import annotations

import pytest

from events.schemas import new_event
from senders.mail import message_id
from senders.weberror import DEFAULT_PREFIX, SENDER_ID, body, parse_admins, plan_web_error, subject
from senders.xmlconfig import SenderConfigError

ERROR = {"status": 500, "method": "GET", "path": "/webclient/", "exception": "RuntimeError: boom",
         "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: boom\n", "request": "GET /webclient/\n"}


def test_omero_web_admins_is_a_json_list_of_name_and_email():
    assert parse_admins('[["Jane", "jane@example.org"]]') == [("Jane", "jane@example.org")]


def test_a_malformed_omero_web_admins_names_the_property():
    with pytest.raises(SenderConfigError, match="omero.web.admins"):
        parse_admins('{"jane": "jane@example.org"}')


def test_a_500_has_djangos_subject_right_after_omeros_prefix():
    """django/core/mail/__init__.py:131 (mail_admins): "%s%s" % (settings.EMAIL_SUBJECT_PREFIX, subject)."""
    assert subject(ERROR) == f"{DEFAULT_PREFIX}ERROR (EXTERNAL IP): Internal Server Error: /webclient/"


def test_the_subject_and_body_the_hooks_publish_are_mailed_as_they_are():
    data = {**ERROR, "subject": "CRITICAL (internal IP): Service Unavailable: /webclient/", "body": "Django's report\n"}
    event = new_event("web.error", data)
    [mail] = plan_web_error(event, [("A", "a@example.org")], DEFAULT_PREFIX, "omero@example.org").mails
    assert mail.subject == f"{DEFAULT_PREFIX}CRITICAL (internal IP): Service Unavailable: /webclient/"
    assert mail.text == "Django's report\n"


def test_a_prefix_ending_in_a_space_is_not_given_another():
    internal = {**ERROR, "internal": True}
    assert subject(internal, "[web] ") == "[web] ERROR (internal IP): Internal Server Error: /webclient/"


def test_a_broken_link_names_the_host():
    data = {"status": 404, "method": "GET", "path": "/x", "url": "https://omero.example.org/x", "internal": True}
    assert subject(data) == f"{DEFAULT_PREFIX}Broken INTERNAL link on omero.example.org"


def test_a_broken_link_without_the_hooks_body_has_djangos_lines_with_the_path():
    """django/middleware/common.py:139: "Referrer: %s\\nRequested URL: %s\\n..." % (referer, path, ua, ip)."""
    data = {"status": 404, "method": "GET", "path": "/x", "url": "https://omero.example.org/x", "referer": "https://a/"}
    assert body(data) == "Referrer: https://a/\nRequested URL: /x\nUser agent: <none>\nIP address: <none>\n"


def test_all_valid_admin_addresses_share_one_mail_with_the_traceback_and_the_request():
    """django/core/mail/__init__.py:130-134 (mail_admins): one message, to=[a[1] for a in settings.ADMINS]."""
    event = new_event("web.error", ERROR)
    result = plan_web_error(event, [("A", "a@example.org"), ("A again", "A@example.org"), ("B", "b@")],
                            DEFAULT_PREFIX, "omero@example.org")
    # Only exactly equal addresses are one; an invalid one is counted with the missing ones.
    [mail] = result.mails
    assert mail.to == "a@example.org, A@example.org" and result.no_email == 1
    assert mail.recipients == ["a@example.org", "A@example.org"]
    assert "RuntimeError: boom" in mail.text and "Request:\nGET /webclient/" in mail.text


def test_the_message_id_comes_from_the_event_the_sender_and_the_sorted_admin_addresses():
    event = new_event("web.error", ERROR)
    one, other = ([("A", "a@example.org"), ("B", "b@example.org")], [("B", "b@example.org"), ("A", "a@example.org")])
    [first] = plan_web_error(event, one, DEFAULT_PREFIX, "omero@example.org").mails
    [second] = plan_web_error(event, other, DEFAULT_PREFIX, "omero@example.org").mails
    assert first.message_id == second.message_id == message_id(
        event.id, SENDER_ID, "a@example.org, b@example.org", "example.org")
    assert first.to == "a@example.org, b@example.org" and second.to == "b@example.org, a@example.org"


def test_no_valid_admin_address_is_no_mail():
    result = plan_web_error(new_event("web.error", ERROR), [("B", "b@")], DEFAULT_PREFIX, "omero@example.org")
    assert result.mails == [] and result.no_email == 1
