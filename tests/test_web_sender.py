"""The web error sender (senders/weberror.py): Django's subjects and bodies, OMERO.web's admins."""

from __future__ import annotations

import pytest

from events.schemas import new_event
from senders.weberror import DEFAULT_PREFIX, parse_admins, plan_web_error, subject
from senders.xmlconfig import SenderConfigError

ERROR = {"status": 500, "method": "GET", "path": "/webclient/", "exception": "RuntimeError: boom",
         "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: boom\n", "request": "GET /webclient/\n"}


def test_omero_web_admins_is_a_json_list_of_name_and_email():
    assert parse_admins('[["Jane", "jane@example.org"]]') == [("Jane", "jane@example.org")]


def test_a_malformed_omero_web_admins_names_the_property():
    with pytest.raises(SenderConfigError, match="omero.web.admins"):
        parse_admins('{"jane": "jane@example.org"}')


def test_a_500_has_djangos_subject_after_omeros_prefix():
    assert subject(ERROR) == f"{DEFAULT_PREFIX} ERROR (EXTERNAL IP): Internal Server Error: /webclient/"


def test_a_prefix_ending_in_a_space_is_not_given_another():
    assert subject({**ERROR, "internal": True}, "[web] ") == "[web] ERROR (internal IP): Internal Server Error: /webclient/"


def test_a_broken_link_names_the_host():
    data = {"status": 404, "method": "GET", "path": "/x", "url": "https://omero.example.org/x", "internal": True}
    assert subject(data) == f"{DEFAULT_PREFIX} Broken INTERNAL link on omero.example.org"


def test_each_valid_admin_address_gets_one_mail_with_the_traceback_and_the_request():
    event = new_event("web.error", ERROR)
    result = plan_web_error(event, [("A", "a@example.org"), ("A again", "A@example.org"), ("B", "b@")],
                            DEFAULT_PREFIX, "omero@example.org")
    # Only exactly equal addresses are one; an invalid one is counted with the missing ones.
    assert [m.to for m in result.mails] == ["a@example.org", "A@example.org"] and result.no_email == 1
    assert "RuntimeError: boom" in result.mails[0].text and "Request:\nGET /webclient/" in result.mails[0].text
