"""The web app's fixtures: ``omero-mail web`` as a process of its own, a client, and Chromium.

- ``web_app(**overrides)`` starts the standalone app on the test's vhost and properties and
  gives its base URL; the app is stopped at teardown.
- :class:`Client` speaks HTTP as a browser does (cookies, the CSRF token of a form), for the
  tests of who may do what; it is how a hand-made POST is made.
- ``browser`` is Debian's Chromium, headless, driven by its ChromeDriver through Selenium:
  nothing downloads a browser. With ``WEBAPP_SCREENSHOTS=DIR`` (``make screenshots``),
  :func:`screenshot` keeps a picture of the page under DIR; otherwise it does nothing.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .bridge_helpers import write_properties
from .services import free_port, unavailable

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: The standalone login where publishers are not checked: an admin's name, the broker URL's password.
ADMIN, PASSWORD = "root", "guest"


@dataclass
class WebApp:
    url: str
    process: subprocess.Popen
    log: Path

    def page(self, path: str) -> str:
        return urllib.parse.urljoin(self.url, path.lstrip("/"))


@pytest.fixture
def web_app(props, tmp_path):
    """Start ``omero-mail web`` with the test's properties (plus overrides, ``a__b`` for ``a.b``)."""
    from events.config import Properties

    started: list[WebApp] = []

    def start(**overrides) -> WebApp:
        merged = Properties(dict((k, props._raw[k]) for k in props._raw))
        merged.update({k.replace("__", "."): v for k, v in overrides.items()}, origin="test")
        config = write_properties(merged, tmp_path / f"web-{len(started)}.properties")
        port = free_port()
        log = tmp_path / f"web-{len(started)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "web", "--port", str(port)],
            cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        app = WebApp(f"http://127.0.0.1:{port}/", process, log)
        started.append(app)
        from .conftest import wait_for

        wait_for(lambda: "omero-mail web on" in log.read_text() or process.poll() is not None, 30,
                 what="the web app to listen")
        if process.poll() is not None:
            pytest.fail(f"omero-mail web exited: {log.read_text()}")
        return app

    yield start
    for app in started:
        if app.process.poll() is None:
            app.process.send_signal(signal.SIGINT)
            try:
                app.process.wait(10)
            except subprocess.TimeoutExpired:
                app.process.kill()
                app.process.wait()


@pytest.fixture
def omero_web_on(tmp_path):
    """The stand-in OMERO.web (tests/omeroweb_standin) with the given properties; stopped at teardown."""
    from .conftest import wait_for

    started: list[subprocess.Popen] = []

    def start(props) -> WebApp:
        config = write_properties(props, tmp_path / f"omero-mail-{len(started)}.properties")
        port = free_port()
        log = tmp_path / f"omero-web-{len(started)}.log"
        process = subprocess.Popen([sys.executable, "-m", "tests.omeroweb_standin.serve", str(config), str(port)],
                                   cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started.append(process)
        wait_for(lambda: "stand-in OMERO.web on" in log.read_text() or process.poll() is not None, 30,
                 what="the stand-in OMERO.web")
        assert process.poll() is None, log.read_text()
        return WebApp(f"http://127.0.0.1:{port}/", process, log)

    yield start
    for process in started:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Client:
    """HTTP as a browser speaks it: cookies kept, redirects not followed, a form's CSRF token reused."""

    def __init__(self, app: WebApp):
        self.app = app
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def get(self, path: str) -> tuple[int, dict, str]:
        return self._open(urllib.request.Request(self.app.page(path)))

    def post(self, path: str, fields: dict, *, token_from: str | None = None) -> tuple[int, dict, str]:
        """POST ``fields``; with ``token_from``, the CSRF token of that page's form is added first."""
        fields = dict(fields)
        headers = {"Referer": self.app.page(token_from or path)}
        if token_from is not None:
            _, _, page = self.get(token_from)
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            assert match, f"no CSRF token in {token_from}"
            fields["csrfmiddlewaretoken"] = match.group(1)
        data = urllib.parse.urlencode(fields, doseq=True).encode()
        return self._open(urllib.request.Request(self.app.page(path), data=data, headers=headers))

    def login(self, name: str = ADMIN, password: str = PASSWORD) -> tuple[int, dict, str]:
        return self.post("login/", {"username": name, "password": password}, token_from="login/")

    def _open(self, request) -> tuple[int, dict, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium from the OS packages, through Selenium and the packaged ChromeDriver."""
    driver = chromium(tmp_path)
    yield driver
    driver.quit()


def chromium(tmp_path: Path, *flags: str):
    """A headless Chromium as ``browser`` starts it, with ``flags`` besides (the caller quits it)."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        unavailable("Chromium and ChromeDriver (Debian's chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,900", f"--user-data-dir={tmp_path / 'chromium'}", *flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    return driver


def log_in(driver, app: WebApp, name: str = ADMIN, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.get(app.page("login/"))
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    from selenium.webdriver.support.ui import WebDriverWait

    # The click returns before the next page: wait for it, or the test's next step races it.
    WebDriverWait(driver, 30).until(lambda d: "/login/" not in d.current_url or d.find_elements(By.CLASS_NAME, "error"))


def screenshot(driver, name: str) -> None:
    """Keep a picture of the page under $WEBAPP_SCREENSHOTS (README's pictures), if set."""
    folder = os.environ.get("WEBAPP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))
