"""The web app lets in OMERO admins only, proved as ``omero-mail broadcast`` proves them."""

from __future__ import annotations

import pytest

from .webapp import Client, log_in, screenshot

PAGES = ["email/", "broadcasts/", "parking/failed/", "parking/invalid/", "health/", "senders/"]


@pytest.mark.parametrize("path", PAGES)
def test_nobody_logged_in_is_sent_to_the_login_page(web_app, path):
    status, headers, _ = Client(web_app()).get(path)
    assert status == 302 and headers["Location"].startswith("/login/?next=")


def test_a_post_from_nobody_logged_in_is_refused(web_app):
    app = web_app()
    status, _, _ = Client(app).post("parking/failed/act/", {"action": "purge"}, token_from="login/")
    assert status == 403


def test_an_admin_with_the_brokers_password_is_let_in(web_app):
    client = Client(web_app())
    status, headers, _ = client.login()
    assert status == 302
    status, _, page = client.get("email/")
    assert status == 200 and "root" in page


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(web_app):
    client = Client(web_app())
    status, _, page = client.login(password="wrong")
    assert status == 403 and "the name or the password is wrong" in page
    assert client.get("email/")[0] == 302


def test_a_user_who_is_not_an_omero_admin_is_refused(web_app):
    client = Client(web_app())
    status, _, _ = client.login(name="carol")
    assert status == 403
    assert client.get("email/")[0] == 302


def test_a_hand_made_post_without_the_csrf_token_is_refused(web_app):
    client = Client(web_app())
    client.login()
    status, _, _ = client.post("parking/failed/act/", {"action": "purge"})
    assert status == 403


def test_a_get_never_changes_anything_where_a_post_is_expected(web_app):
    client = Client(web_app())
    client.login()
    assert client.get("parking/failed/act/")[0] == 405


def test_every_page_forbids_framing_and_sniffing(web_app):
    client = Client(web_app())
    client.login()
    for path in PAGES:
        _, headers, _ = client.get(path)
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


def test_logging_out_ends_the_session(web_app):
    client = Client(web_app())
    client.login()
    assert client.post("logout/", {}, token_from="email/")[0] == 302
    assert client.get("email/")[0] == 302


def test_an_admin_logs_in_from_a_real_browser(web_app, browser):
    app = web_app()
    log_in(browser, app)
    assert browser.current_url.endswith("/email/")
    screenshot(browser, "login")


def test_cookies_are_secure_only_when_the_site_says_it_serves_https(web_app):
    _, plain, _ = Client(web_app()).get("login/")
    _, secure, _ = Client(web_app(**{"omero__mail__web__secure-cookies": "true"})).get("login/")
    assert "Secure" not in plain["Set-Cookie"] and "Secure" in secure["Set-Cookie"]
