"""``make run``: a busy port stops it with one line, it serves the web app, and SIGTERM to make stops all of it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import wait_for
from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def make_run(amqp_url: str, sink_port: int, web_port: int | None = None) -> subprocess.Popen:
    # -o: never rebuild the virtualenv from a test.
    return subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "run", f"SINK_PORT={sink_port}",
                             f"WEB_PORT={web_port or free_port()}"],
                            cwd=ROOT, env=dict(os.environ, OMERO_MAIL_BROKER_URL=amqp_url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def descendants(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            pass
    return children | {d for c in children for d in descendants(c)}


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_a_busy_sink_port_stops_make_run_with_one_line_naming_the_port(amqp_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = make_run(amqp_url, port)
        _out, err = run.communicate(timeout=120)
    assert run.returncode != 0
    # make's own "make: ***" line (or "make[1]: ***" when make runs make, as CI's does).
    ours = [line for line in err.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert ours == [f"make run: port {port} for the SMTP sink is busy; the consumer is not started "
                    "(free it, or run make run SINK_PORT=<another port>)"]


def test_a_busy_web_port_stops_make_run_with_one_line_naming_the_port(amqp_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = make_run(amqp_url, free_port(), port)
        _out, err = run.communicate(timeout=120)
    assert run.returncode != 0
    ours = [line for line in err.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert ours == [f"make run: port {port} for the web app is busy; the consumer is not started "
                    "(free it, or run make run WEB_PORT=<another port>)"]


def test_make_run_serves_the_web_apps_login_page(amqp_url):
    web_port = free_port()
    run = make_run(amqp_url, free_port(), web_port)
    try:
        def login_page():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login/", timeout=5) as response:
                    return "Log in as an OMERO admin" in response.read().decode()
            except OSError:
                return False

        wait_for(login_page, timeout=120, what="make run's web app")
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.communicate(timeout=60)


def test_sigterm_to_make_stops_every_process_of_make_run(amqp_url):
    port = free_port()
    run = make_run(amqp_url, port)
    try:
        def sink_listens():
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(sink_listens, timeout=120, what="make run's sink")
        started = descendants(run.pid)
        assert started
        time.sleep(2)  # the consumer connects and consumes
        os.kill(run.pid, signal.SIGTERM)
        wait_for(lambda: not any(alive(pid) for pid in started), timeout=60, what="make run's processes gone")
    finally:
        try:
            os.killpg(run.pid, signal.SIGKILL)  # whatever this test left, failed or not
        except ProcessLookupError:
            pass
        run.communicate(timeout=30)
