"""What the OMERO.web hooks hide (events/web/report.py), without a request or a broker."""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.webproject.settings")
django.setup()

from events.web.report import HIDDEN, RedactingFilter, redact_query, redact_url  # noqa: E402


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
