"""The web app's pages as a browser speaks to them, for the figures: the session cookie, a form's CSRF token."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            return response.read().decode()

    def timed(self, path: str) -> tuple[float, str]:
        """The page at ``path``, and how long it took in milliseconds."""
        started = time.perf_counter()
        page = self.get(path)
        return 1000 * (time.perf_counter() - started), page

    def post(self, path: str, fields: dict, token_from: str) -> str:
        """POST ``fields`` with the CSRF token of the form at ``token_from``; the URL it ended on."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.get(token_from))
        assert token, f"no CSRF token in {token_from}"
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token.group(1)}, doseq=True).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Referer": self.base + token_from})
        with self.opener.open(request, timeout=60) as response:
            return response.geturl()

    def log_in(self, name: str = "root", password: str = "guest") -> None:
        """The standalone login, as ``make run``'s development site has it."""
        self.post("login/", {"username": name, "password": password}, token_from="login/")
