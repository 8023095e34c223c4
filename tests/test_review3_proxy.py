"""Review of "Behind a reverse proxy" (README): what a client of README's nginx, or an operator's
slightly different nginx, can make the app believe. Real nginx, real app, clients from loopback
addresses of their own (``tests/test_web_behind_proxy.py``)."""

from __future__ import annotations

from .test_web_behind_proxy import BEHIND_NGINX, PUBLIC, Visitor


def test_through_the_proxy_an_x_forwarded_host_header_does_not_get_another_name_past_the_host_check(
        web_app, reverse_proxy):
    # A DNS rebinding page reaches nginx as "rebound.example" and names the public host in a header.
    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC)
    status, _ = Visitor("127.0.0.2", proxy=proxy).request(
        "GET", "login/", headers={"Host": "rebound.example", "X-Forwarded-Host": PUBLIC})
    assert status == 400
