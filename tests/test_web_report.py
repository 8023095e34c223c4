"""What the OMERO.web hooks hide (events/web/report.py), without a request or a broker."""

from __future__ import annotations

import os

from urllib.parse import unquote

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from events.web.report import HIDDEN, RedactingFilter, redact_query, redact_url, shown  # noqa: E402


def test_a_query_keeps_all_but_the_secret_values_exactly_as_it_was():
    assert redact_query("a=1%202&bsession=k&flag&csrfmiddlewaretoken=t") == (
        f"a=1%202&bsession={HIDDEN}&flag&csrfmiddlewaretoken={HIDDEN}")


def test_a_url_keeps_its_fragment_and_a_url_without_a_query_is_unchanged():
    assert redact_url("/webclient/?token=x#top") == f"/webclient/?token={HIDDEN}#top"
    assert redact_url("https://omero.example.org/webclient/") == "https://omero.example.org/webclient/"


def test_a_url_in_a_setting_has_its_password_and_its_secret_query_values_hidden():
    caches = {"default": {"LOCATION": "redis://cache:pw@redis.example.org:6379/0?password=x&db=1"}}
    assert RedactingFilter().cleanse_setting("CACHES", caches) == {
        "default": {"LOCATION": f"redis://cache:{HIDDEN}@redis.example.org:6379/0?password={HIDDEN}&db=1"}}


def test_a_setting_django_hides_is_still_hidden():
    assert RedactingFilter().cleanse_setting("SECRET_KEY", "not-so-secret") == HIDDEN


def test_a_session_key_in_a_percent_encoded_redirect_url_is_hidden():
    # OMERO.web's login page: ?url= holds the page to go back to, its own query percent-encoded.
    redacted = redact_url("/webclient/login/?url=%2Fwebclient%2Fimg_detail%2F1%2F%3Fbsession%3Dk3y%26c%3D1&x=2")
    assert "k3y" not in redacted
    assert redacted.startswith("/webclient/login/?url=") and redacted.endswith("&x=2")
    assert HIDDEN in unquote(redacted) and "img_detail" in unquote(redacted)


def test_a_session_key_encoded_twice_is_hidden():
    redacted = redact_url("/webclient/login/?url=%252Fwebclient%252F%253Fbsession%253Dk3y")
    assert "k3y" not in redacted and "k3y" not in unquote(unquote(redacted))


def test_a_query_without_a_nested_secret_is_left_exactly_as_it_was():
    query = "url=%2Fwebclient%2F%3Fshow%3Dimage-1&page=2"
    assert redact_query(query) == query


def test_a_parameter_value_holding_a_url_with_a_session_key_is_hidden():
    shown_value = shown("url", "/webclient/?bsession=k3y&show=image-1")
    assert "k3y" not in shown_value and "show=image-1" in shown_value


def test_a_settings_url_whose_password_holds_an_at_sign_is_hidden_whole():
    from events.web.report import RedactingFilter

    shown = RedactingFilter().cleanse_setting("BROKER", "amqp://web:p@ss@rabbit1/omero")
    assert "p@ss" not in shown and "ss@rabbit1" not in shown and shown.endswith("@rabbit1/omero")
