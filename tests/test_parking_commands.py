"""``omero-mail failed|invalid``: no admin's command loses a parked message or hides the lot from others.

The messages are parked straight into ``omero.mail.failed`` (as the delivery stage parks
them, with its headers), so no consumer has to run; the commands are run as an admin
runs them, each a process of its own.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from consumer.admin import cli

from consumer import outcomes
from events import topology as topo
from events.broker import Message, Publisher, QueueBrowser, declare_topology, queue_depths
from senders.mail import Mail

from .conftest import ROOT, wait_for
from .faults import Proxy

#: Ids chosen so that ``a`` is the start of two of them.
IDS = ("<a1f0c2@example.org>", "<a2e4d6@example.org>", "<b7c8d9@example.org>")


def mail(message_id: str, to: str) -> Mail:
    return Mail(message_id=message_id, event_id="2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87", event_type="login.failed",
                sender="failedLoginMailSender", mail_from="omero@example.org", to=to, subject="Failed login",
                text="Hello.\n")


def park(url: str, topology: topo.Topology | None = None) -> list[Mail]:
    """Three emails in omero.mail.failed, refused with 550, as the delivery stage parks them."""
    declare_topology(url, topology or topo.build())
    mails = [mail(i, f"user{n}@example.org") for n, i in enumerate(IDS)]
    headers = {outcomes.REASON: "550 5.1.1 No such user", outcomes.ATTEMPTS: 1, outcomes.PARKED_AT: outcomes.now_iso(),
               outcomes.FROM_QUEUE: topo.OUTBOX_QUEUE}
    with Publisher(url) as publisher:
        publisher.publish_many([Message(topo.MAIL_EXCHANGE, topo.FAILED_KEY, m.to_json(), m.message_id,
                                        {**headers, outcomes.RECIPIENT: m.to, outcomes.SENDER: m.sender})
                                for m in mails])
    return mails


def depth(url: str, queue: str = topo.FAILED_QUEUE) -> int:
    return queue_depths(url, [queue])[queue]


def omero_mail(url, *args):
    env = dict(os.environ, OMERO_MAIL_BROKER_URL=url, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=ROOT)


@pytest.fixture
def lot(amqp_url):
    park(amqp_url)
    return amqp_url


@pytest.mark.parametrize("args", [
    ["purge", "", "--yes"], ["purge", "<>", "--yes"], ["purge", " ", "--yes"], ["replay", ""],
    ["purge", "--sender", "", "--yes"], ["replay", "--recipient", ""], ["replay", "--error", " "],
    ["list", "--sender", ""], ["show", ""], ["show", "<>"],
])
def test_an_empty_id_or_filter_is_a_usage_error_and_touches_nothing(lot, args):
    result = omero_mail(lot, "failed", *args)
    assert result.returncode == 2, result.stderr
    assert "usage:" in result.stderr and "empty" in result.stderr
    assert depth(lot) == 3


@pytest.mark.parametrize("action", ["purge", "replay"])
def test_a_prefix_of_several_ids_is_refused_for_purge_and_replay(lot, action):
    result = omero_mail(lot, "failed", action, "a", "--yes" if action == "purge" else "--dry-run")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "'a' matches 2 messages" in line and "--all-matching" in line
    assert depth(lot) == 3


def test_a_prefix_of_several_ids_is_purged_with_all_matching(lot):
    result = omero_mail(lot, "failed", "purge", "a", "--all-matching", "--yes")
    assert result.returncode == 0, result.stderr
    assert "purged 2 message(s)" in result.stdout
    with QueueBrowser(lot, topo.FAILED_QUEUE) as browser:
        assert [p.message_id for p in browser.messages()] == [IDS[2]]


def test_a_prefix_of_several_ids_is_purged_when_each_of_them_is_named_too(lot):
    result = omero_mail(lot, "failed", "purge", "a", "a1", "a2", "--yes")
    assert result.returncode == 0, result.stderr
    assert "purged 2 message(s)" in result.stdout and depth(lot) == 1


class Terminal:
    """A command whose standard input is a terminal (so purge asks), its output read as it comes."""

    def __init__(self, url: str, *args: str):
        self.leader, follower = pty.openpty()
        env = dict(os.environ, OMERO_MAIL_BROKER_URL=url, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", *args], stdin=follower,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        os.close(follower)
        self.out = b""

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s: {self.out!r}"
            if select.select([self.process.stdout], [], [], 0.5)[0]:
                self.out += os.read(self.process.stdout.fileno(), 4096)

    def type(self, keys: bytes) -> None:
        os.write(self.leader, keys)

    def finish(self) -> tuple[int, str, str]:
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # still asking: a test that failed before answering
            self.process.kill()
            out, err = self.process.communicate()
        os.close(self.leader)
        return self.process.returncode, (self.out + out).decode(), err.decode()


def test_the_lot_is_seen_whole_by_another_admin_while_purge_asks(lot):
    purge = Terminal(lot, "failed", "purge", "b7")
    try:
        purge.wait_for("[y/N]")
        listed = omero_mail(lot, "failed", "list", "--json")
        assert len(json.loads(listed.stdout)) == 3, listed.stderr
        assert depth(lot) == 3
        purge.type(b"y\n")
    finally:
        code, out, err = purge.finish()
    assert code == 0, err
    assert "purged 1 message(s)" in out and depth(lot) == 2


def test_ctrl_d_at_the_purge_prompt_is_no_in_one_line(lot):
    purge = Terminal(lot, "failed", "purge", "b7")
    try:
        purge.wait_for("[y/N]")
        purge.type(b"\x04")
    finally:
        code, _, err = purge.finish()
    assert code == 1
    assert err.splitlines() == ["omero-mail: error: purge cancelled; nothing deleted"]
    assert depth(lot) == 3


def test_a_connection_lost_during_a_replay_is_one_line_and_loses_nothing(lot, capsys, monkeypatch):
    from consumer.admin import progress

    host_port = lot.split("@", 1)[1].split("/", 1)[0]
    proxy = Proxy("127.0.0.1", int(host_port.rsplit(":", 1)[1]) if ":" in host_port else 5672)
    through = lot.replace(host_port, f"127.0.0.1:{proxy.port}")
    monkeypatch.setattr(progress.Progress, "advance", lambda self, count=1: proxy.cut())
    monkeypatch.setenv("OMERO_MAIL_BROKER_URL", through)
    try:
        code = cli.main(["failed", "replay", "--log-level", "ERROR"])
    finally:
        proxy.close()
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if not line.startswith("replaying ")]  # the progress bar's
    assert line.startswith("omero-mail: error: ") and "connection" in line
    # What the cut connection held goes back to the lot once RabbitMQ sees the connection closed. A
    # copy confirmed in the outbox whose original's ack was cut off is there twice (at least once).
    wait_for(lambda: depth(lot) + depth(lot, topo.OUTBOX_QUEUE) >= 3, 30, what="every mail in the lot or the outbox")


def test_a_parked_mail_in_a_quorum_lot_survives_many_lists(amqp_url):
    """RabbitMQ 3.10 (this machine's) has no default delivery limit; 4.0 has 20 (README, Scaling out)."""
    park(amqp_url, topo.build(queue_type="quorum"))
    for _ in range(25):
        with QueueBrowser(amqp_url, topo.FAILED_QUEUE) as browser:
            assert len(browser.messages()) == 3
    assert depth(amqp_url) == 3

