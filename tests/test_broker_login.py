"""Logging in to RabbitMQ: the admin's login reaches every node of the list, and a login
RabbitMQ refuses is said once, never retried by a command nor printed twice by a stage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from consumer.admin import cli
from consumer.access.credentials import with_login
from events import topology as topo
from events.broker import BrokerError, Message, PublishError, Publisher, declare_topology, queue_depths
from events.broker.connection import addresses

from .conftest import wait_for, write_directory
from .services import free_port
from .test_cli_errors import ROOT, omero_mail

ADMIN_PASSWORD = "Adm1nPw!"
WRONG = "Wr0ng-pw-5e1"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.netloc, f"{parts.username}:{password}@{parts.hostname}:{parts.port}")


def test_the_admins_login_goes_into_every_node_of_a_url_naming_several_hosts():
    url = with_login("amqp://omero-mail:pw@rabbit1,rabbit2:5673/omero", "root", ADMIN_PASSWORD)
    assert addresses(url) == ["amqp://root:Adm1nPw%21@rabbit1/omero", "amqp://root:Adm1nPw%21@rabbit2:5673/omero"]


def test_the_admins_login_goes_into_every_url_of_a_list():
    url = with_login("amqp://a:x@h1/%2F, amqps://b:y@h2:5671/v", "root", ADMIN_PASSWORD)
    assert addresses(url) == ["amqp://root:Adm1nPw%21@h1/%2F", "amqps://root:Adm1nPw%21@h2:5671/v"]


@pytest.fixture
def checked_broadcast(tmp_path, monkeypatch):
    """``omero-mail broadcast`` as the admin ``guest``, the publishers checked, in this process."""
    people = write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "guest", "email": "guest@example.org", "groups": ["system", "user"]}])

    def run(broker_url: str, password: str) -> int:
        config = tmp_path / "broadcast.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in {
            "omero.mail.broker.url": broker_url, "omero.mail.broker.check-publishers": "true",
            "omero.mail.broadcast.user": "guest", "omero.mail.directory.file": str(people),
            "omero.mail.from": "omero@example.org", "omero.mail.queue.type": "classic"}.items()))
        monkeypatch.setenv("OMERO_MAIL_BROADCAST_PASSWORD", password)
        return cli.main(["broadcast", "S", "B", "--everyone", "--no-wait", "--config", str(config)])

    return run


def test_a_checked_broadcast_reaches_the_second_node_of_a_url_naming_several_hosts(amqp_url, checked_broadcast,
                                                                                   capsys):
    declare_topology(amqp_url, topo.build())
    parts = urlsplit(amqp_url)
    several = f"amqp://omero-mail:pw@127.0.0.1:{free_port()},{parts.hostname}:{parts.port}{parts.path}"
    code = checked_broadcast(several, "guest")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "queued" in out
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1


def test_a_checked_broadcast_to_nodes_that_are_down_names_them_without_the_admins_password(checked_broadcast,
                                                                                          capsys):
    several = f"amqp://omero-mail:pw@127.0.0.1:{free_port()},127.0.0.1:{free_port()}/omero"
    code = checked_broadcast(several, ADMIN_PASSWORD)
    err = capsys.readouterr().err
    assert code == 1
    assert "guest:********@127.0.0.1" in err
    for form in (ADMIN_PASSWORD, "Adm1nPw%21"):
        assert form not in err


def test_a_command_whose_login_is_refused_says_so_in_one_line_at_once(amqp_url):
    declare_topology(amqp_url, topo.build())
    started = time.monotonic()
    result = omero_mail("publish", "server.startup", env={"OMERO_MAIL_BROKER_URL": with_password(amqp_url, WRONG)})
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("omero-mail: error: ") and "ACCESS_REFUSED" in line
    assert "may still" not in line and WRONG not in line
    assert time.monotonic() - started < 10


def test_a_publisher_whose_login_is_refused_tries_once_and_publishes_nothing(amqp_url, caplog):
    declare_topology(amqp_url, topo.build())
    with Publisher(with_password(amqp_url, WRONG)) as publisher:
        with pytest.raises(BrokerError) as error:
            publisher.publish(Message(topo.EVENTS_EXCHANGE, "server.startup", b"{}", "refused-1"))
    assert not isinstance(error.value, PublishError)
    assert "refused-1" in str(error.value) and "not published" in str(error.value)
    assert not [r for r in caplog.records if "attempt" in r.getMessage()]
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_publisher_that_never_connected_does_not_say_the_message_may_still_be_delivered():
    with Publisher(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", attempts=2) as publisher:
        with pytest.raises(BrokerError) as error:
            publisher.publish(Message(topo.EVENTS_EXCHANGE, "server.startup", b"{}", "unsent-1"))
    assert not isinstance(error.value, PublishError)
    assert "not published" in str(error.value) and "may still" not in str(error.value)


def test_a_stage_whose_login_is_refused_logs_one_line_per_attempt_at_one_level(amqp_url, tmp_path):
    environ = {"PATH": os.environ.get("PATH", ""), "OMERO_MAIL_BROKER_URL": with_password(amqp_url, WRONG)}
    log = tmp_path / "stage.log"

    def broker_lines() -> list[str]:
        return [line for line in log.read_text().splitlines() if "RabbitMQ" in line]

    with open(log, "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "consume", "--stage", "delivery"],
                                   cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        # The start's attempt and the consumer's first three (its retries wait 1-2 s, then 2-3 s): what
        # the 8 s this test used to sleep saw on an idle machine, however long the stage takes to start.
        wait_for(lambda: len(broker_lines()) >= 4, 60, interval=0.2, what="four refused attempts logged")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    err = log.read_text()
    about_the_broker = broker_lines()
    assert len(about_the_broker) >= 3, err
    assert all("ACCESS_REFUSED" in line for line in about_the_broker), err
    assert len({line.split()[2] for line in about_the_broker}) == 1, err
    assert WRONG not in err
