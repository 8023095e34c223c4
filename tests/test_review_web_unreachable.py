"""Review: the web app when RabbitMQ's host name does not resolve (a stopped container, a DNS outage).

README promises a one-line reason on the page, never a crash: "RabbitMQ could not be asked (the
reason, its password hidden)". A name that does not resolve is what a Docker network gives
while the broker's container is down.
"""

from __future__ import annotations

from .webapp import Client

NOWHERE = "amqp://guest:hidden-pw@omero-mail-rabbit.invalid:5672/%2F"


def test_a_login_while_the_brokers_name_does_not_resolve_is_refused_not_a_server_error(web_app):
    app = web_app(omero__mail__broker__url=NOWHERE)
    status, _, page = Client(app).login(password="hidden-pw")
    assert status == 403 and "not logged in" in page.lower()


def test_a_parking_page_whose_brokers_name_does_not_resolve_says_why_without_the_password(web_app):
    app = web_app(omero__mail__web__failed__broker__url=NOWHERE)
    client = Client(app)
    assert client.login()[0] == 302
    status, _, page = client.get("parking/failed/")
    assert status == 503 and "omero-mail-rabbit.invalid" in page
    assert "hidden-pw" not in page and "hidden-pw" not in app.log.read_text()
