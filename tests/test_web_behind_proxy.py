"""``omero-mail web`` behind a TLS reverse proxy (README, "Behind a reverse proxy"): real nginx with
README's own lines in front of the real app; clients from loopback addresses of their own."""

from __future__ import annotations

import http.client
import http.cookies
import re
import ssl
import subprocess
import sys
import urllib.parse

from .bridge_helpers import write_properties
from .reverse_proxy import Proxy
from .webapp import ADMIN, PASSWORD, ROOT, WebApp, chromium, log_in

PUBLIC = "mail.example.org"
BEHIND_NGINX = {"omero__mail__web__trusted-proxy": "127.0.0.1", "omero__mail__web__allowed-hosts": PUBLIC,
                "omero__mail__web__secure-cookies": "true"}
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Visitor:
    """One client's HTTP, keeping its cookies, from a loopback address of its own (``source``):
    through the proxy (TLS, the public name as Host) or straight to the app."""

    def __init__(self, source: str, *, proxy: Proxy | None = None, app: WebApp | None = None):
        self.source = source
        self.cookies: dict[str, str] = {}
        #: The last response's headers.
        self.headers: http.client.HTTPMessage | None = None
        if proxy is not None:
            self.port, self.host, self.origin = proxy.port, f"{proxy.name}:{proxy.port}", proxy.url.rstrip("/")
            self.tls = True
        else:
            assert app is not None
            parts = urllib.parse.urlsplit(app.url)
            self.port, self.host, self.origin, self.tls = parts.port, parts.netloc, app.url.rstrip("/"), False

    def request(self, method: str, path: str, fields: dict | None = None,
                headers: dict | None = None) -> tuple[int, str]:
        if self.tls:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=30, source_address=(self.source, 0),
                context=ssl._create_unverified_context())
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                    source_address=(self.source, 0))
        sent = {"Host": self.host, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            sent.update({"Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
                         "Referer": f"{self.origin}/{path}"})
        try:
            connection.request(method, "/" + path, body=body, headers=sent)
            response = connection.getresponse()
            self.headers = response.headers
            for line in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in http.cookies.SimpleCookie(line).items():
                    self.cookies[name] = morsel.value
            return response.status, response.read().decode()
        finally:
            connection.close()

    def log_in(self, name: str, password: str, headers: dict | None = None) -> int:
        status, page = self.request("GET", "login/", headers=headers)
        assert status == 200, page
        [token] = TOKEN.findall(page)
        status, _ = self.request("POST", "login/", {"username": name, "password": password,
                                                    "csrfmiddlewaretoken": token}, headers=headers)
        return status


def test_an_admin_logs_in_and_out_through_a_tls_reverse_proxy_in_a_browser(web_app, reverse_proxy, tmp_path):
    from selenium.webdriver.common.by import By

    from .conftest import wait_for

    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC)
    driver = chromium(tmp_path, f"--host-resolver-rules=MAP {PUBLIC} 127.0.0.1", "--ignore-certificate-errors")
    try:
        log_in(driver, proxy.as_app())
        assert driver.current_url.startswith(proxy.url) and "/login/" not in driver.current_url
        assert not driver.find_elements(By.CLASS_NAME, "error")
        assert {c["name"]: c["secure"] for c in driver.get_cookies()}["omero_mail_session"] is True
        driver.find_element(By.CSS_SELECTOR, ".omero-mail-logout button").click()
        wait_for(lambda: "/login/" in driver.current_url, what="the login page after logging out")
    finally:
        driver.quit()


def test_without_the_trusted_proxy_a_login_over_https_is_refused_by_the_csrf_check(web_app, reverse_proxy):
    proxy = reverse_proxy(web_app(**{"omero__mail__web__allowed-hosts": PUBLIC}), PUBLIC)
    assert Visitor("127.0.0.2", proxy=proxy).log_in(ADMIN, PASSWORD) == 403


def test_behind_the_proxy_each_client_address_has_its_own_bound_on_login_guesses(web_app, reverse_proxy):
    proxy = reverse_proxy(web_app(**BEHIND_NGINX), PUBLIC)
    guesser = Visitor("127.0.0.2", proxy=proxy)
    assert [guesser.log_in(ADMIN, "wrong") for _ in range(6)] == [403] * 5 + [429]
    assert Visitor("127.0.0.3", proxy=proxy).log_in(ADMIN, PASSWORD) == 302
    assert "from 127.0.0.2 refused unchecked" in proxy.app.log.read_text()


def test_a_client_reaching_the_app_directly_cannot_choose_its_address_by_a_header(web_app):
    app = web_app(**{"omero__mail__web__trusted-proxy": "192.0.2.1"})
    guesser = Visitor("127.0.0.2", app=app)
    statuses = [guesser.log_in(ADMIN, "wrong", headers={"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(6)]
    assert statuses == [403] * 5 + [429]


def test_a_bad_trusted_proxy_stops_the_web_app_with_one_line_naming_the_key(props, tmp_path):
    props.update({"omero.mail.web.trusted-proxy": "nginx.example.org"}, origin="test")
    config = write_properties(props, tmp_path / "web.properties")
    result = subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "web",
                             "--port", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"omero-mail: error: omero.mail.web.trusted-proxy='nginx.example.org' (from {config}): "
        "expected one IP address, such as 127.0.0.1, or empty"]
