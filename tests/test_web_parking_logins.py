"""The parking pages read each lot with the login given for it, as the commands are given theirs."""

from __future__ import annotations

from urllib.parse import quote

from .faults import outbox_mail
from .test_web_parking_actions import park
from .webapp import Client


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://guest:{quote(password)}@{rest.split('@', 1)[1]}"


def test_the_failed_page_reads_with_its_own_login_when_one_is_given(props, web_app):
    park(props, [outbox_mail("someone@example.org")])
    client = Client(web_app(omero__mail__web__failed__broker__url=props["omero.mail.broker.url"]))
    client.login()
    status, _, page = client.get("parking/failed/")
    assert status == 200 and "someone@example.org" in page


def test_a_refused_lot_login_is_one_line_on_the_page_without_its_password(props, web_app):
    park(props, [outbox_mail("someone@example.org")])
    refused = with_password(props["omero.mail.broker.url"], "s3cret-lot-password")
    client = Client(web_app(omero__mail__web__failed__broker__url=refused))
    client.login()
    status, _, page = client.get("parking/failed/")
    assert "someone@example.org" not in page
    assert "s3cret-lot-password" not in page and "RabbitMQ" in page
