"""Review: a login keeps nothing a page gave before it (OWASP's session and token fixation)."""

from __future__ import annotations

from .webapp import Client


def cookies(client: Client) -> dict[str, str]:
    return {cookie.name: cookie.value for cookie in client.cookies}


def test_a_login_gives_a_new_csrf_token_so_one_planted_before_it_is_worth_nothing_after(web_app):
    client = Client(web_app())
    client.get("login/")
    planted = cookies(client)["csrftoken"]
    assert client.login()[0] == 302
    assert cookies(client)["csrftoken"] != planted
