"""Review: the parking pages' *Since* field with an age beyond any date: one line, not a server error."""

from __future__ import annotations

from .webapp import Client


def test_an_age_beyond_any_date_says_why_and_lists_nothing(web_app):
    client = Client(web_app())
    assert client.login()[0] == 302
    status, _, page = client.get("parking/failed/?since=99999999999999999h")
    assert status == 400 and "an age beyond any date" in page
