"""The app inside OMERO.web: OMERO.web's login decides who is an admin, pages take OMERO.web's look.

Run against tests/omeroweb_standin (omero-web does not install here; that package says what
of omero-web it reproduces, from omero-web's source).
"""

from __future__ import annotations

import uuid

import pytest

from .webapp import Client, WebApp

PAGES = ["email/", "broadcasts/", "parking/failed/", "parking/invalid/", "health/", "senders/"]


@pytest.fixture
def omero_web(props, omero_web_on) -> WebApp:
    return omero_web_on(props)


def logged_in(app: WebApp, user: str, admin: bool, session: str | None = None) -> Client:
    client = Client(app)
    status, _, _ = client.get(f"standin/login/?user={user}&admin={int(admin)}&session={session or uuid.uuid4()}")
    assert status == 200
    return client


@pytest.mark.parametrize("path", PAGES)
def test_nobody_logged_in_to_omero_web_is_sent_to_its_login_page(omero_web, path):
    status, headers, _ = Client(omero_web).get(f"omero_mail/{path}")
    assert status == 302 and headers["Location"].startswith("/webclient/login/?url=")


@pytest.mark.parametrize("path", PAGES)
def test_an_omero_user_who_is_not_an_admin_gets_no_page(omero_web, path):
    status, _, _ = logged_in(omero_web, "carol", admin=False).get(f"omero_mail/{path}")
    assert status == 404


def test_a_post_from_an_omero_user_who_is_not_an_admin_changes_nothing(omero_web):
    client = logged_in(omero_web, "carol", admin=False)
    status, _, _ = client.post("omero_mail/parking/failed/act/", {"action": "purge"})
    assert status in (403, 404)


@pytest.mark.parametrize("path", PAGES)
def test_an_omero_admin_sees_each_page_inside_omero_webs_own_base_template(omero_web, path):
    status, headers, page = logged_in(omero_web, "root", admin=True).get(f"omero_mail/{path}")
    assert status == 200, page
    assert 'id="omero-web-standin"' in page and "omero-mail-nav" in page
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
