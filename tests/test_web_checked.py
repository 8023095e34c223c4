"""The standalone web app where publishers are checked: an admin proves their own broker user.

On the session's private RabbitMQ node, with the users and permissions the site generates
(tests/test_identities.py): the login connects as the admin's broker user, and the broadcast
the admin then composes carries that user, which the rules stage trusts as it trusts
``omero-mail broadcast``'s.
"""

from __future__ import annotations

import pytest

from .conftest import wait_for
from .test_identities import PASSWORD, accounts, people, site, stages  # noqa: F401  (the fixtures)
from .webapp import Client

pytestmark = pytest.mark.private_broker


@pytest.fixture
def web(site, web_app):  # noqa: F811
    return web_app(omero__mail__broker__url=site.guest_url,
                   **{key.replace(".", "__"): value for key, value in site.properties.items()})


def test_an_admin_logs_in_with_their_own_broker_password_and_their_broadcast_is_mailed(stages, web,  # noqa: F811
                                                                                        smtp_server):
    client = Client(web)
    assert client.login("alice", PASSWORD)[0] == 302
    status, _, _ = client.post("email/", {"subject": "Checked", "message": "From alice", "everyone": "on"},
                               token_from="email/")
    assert status == 302
    mails = smtp_server.wait_for_messages(3)
    assert sorted(str(mail["To"]) for mail in mails) == ["alice@example.org", "carol@example.org", "root@example.org"]


def test_a_password_that_is_not_the_broker_users_of_that_name_is_refused(web):
    assert Client(web).login("root", "not-roots-password")[0] == 403


def test_the_brokers_guest_password_proves_no_admin_where_publishers_are_checked(web):
    client = Client(web)
    assert client.login("root", "guest")[0] == 403
    wait_for(lambda: client.get("email/")[0] == 302, what="no session")
