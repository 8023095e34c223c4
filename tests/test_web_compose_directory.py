"""The app and the directory it reads: OMERO's database down, and an admin removed from ``system``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from events.config import Properties

from .bridge_helpers import write_properties
from .conftest import ROOT, wait_for, write_directory
from .faults import Proxy
from .services import free_port
from .test_web_inside_omero_web import logged_in
from .webapp import Client, WebApp


@pytest.fixture
def omero_web_on(tmp_path):
    """The stand-in OMERO.web with these properties; stopped at teardown."""
    started: list[subprocess.Popen] = []

    def start(props: Properties) -> WebApp:
        config = write_properties(props, tmp_path / "omero-mail.properties")
        port = free_port()
        log = tmp_path / "omero-web.log"
        process = subprocess.Popen([sys.executable, "-m", "tests.omeroweb_standin.serve", str(config), str(port)],
                                   cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
        started.append(process)
        wait_for(lambda: "stand-in OMERO.web on" in log.read_text() or process.poll() is not None, 30,
                 what="the stand-in OMERO.web")
        return WebApp(f"http://127.0.0.1:{port}/", process, log)

    yield start
    for process in started:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_email_page_says_in_one_line_that_the_directory_is_down_and_shows_no_password(omero_db, props,
                                                                                          omero_web_on):
    proxy = Proxy("127.0.0.1", 5432)
    try:
        dsn = " ".join([p for p in omero_db.dsn.split() if not p.startswith(("host=", "port="))]
                       + ["host=127.0.0.1", f"port={proxy.port}", "password=s3cret-db"])
        merged = Properties(dict((k, props._raw[k]) for k in props._raw))
        merged.update({"omero.mail.directory.backend": "postgres", "omero.mail.directory.dsn": dsn}, origin="test")
        app = omero_web_on(merged)
        proxy.cut()
        status, _, page = logged_in(app, "root", admin=True).get("omero_mail/email/")
        assert status == 503 and "Not available now:" in page and "s3cret-db" not in page
    finally:
        proxy.close()


def test_an_admin_removed_from_system_while_logged_in_is_logged_out_at_the_next_page(web_app, tmp_path):
    people = tmp_path / "people.json"
    admins = [{"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]},
              {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]}]
    write_directory(people, admins)
    client = Client(web_app(omero__mail__directory__file=str(people), omero__mail__directory__refresh="0.1"))
    assert client.login("alice")[0] == 302
    assert client.get("health/")[0] == 200
    write_directory(people, [admins[0], {**admins[1], "groups": ["user"]}])
    time.sleep(0.3)
    status, headers, _ = client.get("health/")
    assert status == 302 and headers["Location"] == "/login/"
    assert client.get("email/")[0] == 302
