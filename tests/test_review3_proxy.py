"""Review of "Behind a reverse proxy" (README): what a client of README's nginx, or an operator's
slightly different nginx, can make the app believe. Real nginx, real app, clients from loopback
addresses of their own (``tests/test_web_behind_proxy.py``)."""

from __future__ import annotations

from .test_web_behind_proxy import BEHIND_NGINX, PUBLIC, TOKEN, Visitor
from .webapp import ADMIN, PASSWORD


def test_through_the_proxy_an_x_forwarded_host_header_does_not_get_another_name_past_the_host_check(
        web_app, reverse_proxy):
    # A DNS rebinding page reaches nginx as "rebound.example" and names the public host in a header.
    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC)
    status, _ = Visitor("127.0.0.2", proxy=proxy).request(
        "GET", "login/", headers={"Host": "rebound.example", "X-Forwarded-Host": PUBLIC})
    assert status == 400


def test_behind_a_dual_stack_proxy_each_ipv4_client_has_its_own_bound_on_login_guesses(web_app, reverse_proxy):
    # nginx on [::]:443 ipv6only=off sees an IPv4 client as ::ffff:a.b.c.d.
    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC, listen="[::ffff:127.0.0.1]")
    guesser = Visitor("127.0.0.2", proxy=proxy)
    assert [guesser.log_in(ADMIN, "wrong") for _ in range(6)] == [403] * 5 + [429]
    assert Visitor("127.0.0.3", proxy=proxy).log_in(ADMIN, PASSWORD) == 302
    assert "from 127.0.0.2 refused unchecked" in proxy.app.log.read_text()


def test_after_a_login_over_https_next_does_not_send_the_browser_to_plain_http(web_app, reverse_proxy):
    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC)
    admin = Visitor("127.0.0.2", proxy=proxy)
    status, page = admin.request("GET", "login/")
    [token] = TOKEN.findall(page)
    status, _ = admin.request("POST", "login/", {"username": ADMIN, "password": PASSWORD, "csrfmiddlewaretoken": token,
                                                 "next": f"http://{PUBLIC}:{proxy.port}/parking/"})
    assert status == 302
    assert admin.headers is not None and not admin.headers["Location"].startswith("http:")


def test_an_allowed_host_written_with_its_trailing_dot_lets_the_browser_in(web_app, reverse_proxy):
    # "mail.example.org." is the same name (DNS's absolute spelling); Django compares without the dot.
    proxy = reverse_proxy(web_app(**{**BEHIND_NGINX, "omero__mail__web__allowed-hosts": f"{PUBLIC}."}), PUBLIC)
    status, _ = Visitor("127.0.0.2", proxy=proxy).request("GET", "login/")
    assert status == 200
