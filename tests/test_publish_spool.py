"""``omero-mail publish-spool``: the spooled events are given back on any exit, and a leftover is found again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from events import topology as topo
from events.broker import declare_topology, queue_depths
from events.schemas import new_event

from .conftest import ROOT, wait_for


def spooled_events(count: int = 2) -> bytes:
    events = [new_event("web.error", {"status": 500, "method": "GET", "path": f"/p{n}"}, source="tests")
              for n in range(count)]
    return b"".join(e.to_json() + b"\n" for e in events)


def omero_mail(url: str, *args: str, wait: bool = True):
    env = dict(os.environ, OMERO_MAIL_BROKER_URL=url, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "consumer.admin.cli", *args]
    if wait:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
                              stdin=subprocess.DEVNULL)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
                            stdin=subprocess.DEVNULL)


@pytest.fixture
def silent_broker():
    """A port that accepts connections and never answers: a publish to it hangs until killed."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"amqp://guest:guest@127.0.0.1:{server.getsockname()[1]}/%2F"
    server.close()
    for sock in held:
        sock.close()


def dead_pid() -> int:
    """The id of a process that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def taken_files(spool) -> list:
    return sorted(spool.parent.glob(spool.name + ".publishing-*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_publishing_gives_every_event_back_to_the_spool(tmp_path, silent_broker, sig):
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(spooled := spooled_events())
    process = omero_mail(silent_broker, "publish-spool", str(spool), wait=False)
    try:
        wait_for(lambda: taken_files(spool), what="the spool file taken")
        time.sleep(0.5)
        process.send_signal(sig)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert spool.read_bytes() == spooled and taken_files(spool) == []


def test_a_leftover_of_a_killed_run_is_published_by_the_next_one(tmp_path, amqp_url):
    declare_topology(amqp_url, topo.build())
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"")
    leftover = spool.with_name(f"{spool.name}.publishing-{dead_pid()}")
    leftover.write_bytes(spooled_events(3))
    result = omero_mail(amqp_url, "publish-spool", str(spool))
    assert result.returncode == 0, result.stderr
    assert "published 3 event(s)" in result.stdout
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 3
    assert not leftover.exists() and spool.read_bytes() == b""


def test_a_leftover_is_found_when_the_spool_file_itself_is_gone(tmp_path, amqp_url):
    declare_topology(amqp_url, topo.build())
    spool = tmp_path / "spool.jsonl"
    leftover = spool.with_name(f"{spool.name}.publishing-{dead_pid()}")
    leftover.write_bytes(spooled_events(1))
    result = omero_mail(amqp_url, "publish-spool", str(spool))
    assert result.returncode == 0, result.stderr
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1
    assert spool.exists() and not leftover.exists()


def test_the_file_of_a_run_still_going_is_left_to_it(tmp_path, amqp_url):
    declare_topology(amqp_url, topo.build())
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "publish-spool", str(spool)])
    try:
        running = spool.with_name(f"{spool.name}.publishing-{other.pid}")
        running.write_bytes(spooled_events(1))
        result = omero_mail(amqp_url, "publish-spool", str(spool))
    finally:
        other.kill()
        other.wait()
    assert result.returncode == 0, result.stderr
    assert running.exists() and f"process {other.pid}" in result.stderr
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_number_taken_by_another_program_since_is_not_a_run_still_going(tmp_path, amqp_url):
    declare_topology(amqp_url, topo.build())
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"")
    leftover = spool.with_name(f"{spool.name}.publishing-{os.getpid()}")
    leftover.write_bytes(spooled_events(1))
    result = omero_mail(amqp_url, "publish-spool", str(spool))
    assert result.returncode == 0, result.stderr
    assert not leftover.exists() and queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1

