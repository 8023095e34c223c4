"""Following a broadcast holds nothing: another admin's ``status`` sees it, and a long wait outlives
RabbitMQ's ``consumer_timeout``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pika
import pytest

from consumer.admin import cli, results

from consumer import outcomes
from events import topology as topo
from events.broker import Publisher, declare_topology

from . import rabbitmq_nodes
from .conftest import ROOT, wait_for, write_directory
from .services import RabbitMQ

#: The node's timeout for a delivery left unacked, checked every 200 ms instead of every minute.
CONSUMER_TIMEOUT_MS = 1000


@pytest.fixture
def config(tmp_path, props):
    path = tmp_path / "omero-mail.properties"
    people = write_directory(tmp_path / "people.json", [
        {"id": 0, "omeName": "root", "email": "root@example.org", "groups": ["system", "user"]}])
    values = {**{k: props._raw[k] for k in props._raw}, "omero.mail.directory.file": str(people)}
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def test_status_knows_a_broadcast_while_another_admin_waits_for_it(config, props, capsys):
    declare_topology(props["omero.mail.broker.url"], topo.from_properties(props))
    waiting = subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "broadcast", "S", "B", "--everyone",
                                "--wait", "60", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(ROOT)), cwd=ROOT)
    try:
        event_id = waiting.stdout.readline().decode().split()[1]
        time.sleep(2)  # the waiting command now follows the broadcast's outcomes
        code = cli.main(["broadcast", "status", event_id, "--config", str(config), "--log-level", "ERROR"])
        out, err = capsys.readouterr()
    finally:
        waiting.kill()
        waiting.wait()
    assert code == 0, err
    assert out.splitlines() == [f"Broadcast {event_id}", "Not planned yet: no consumer has taken the broadcast "
                                                         "(or it was refused: see omero.mail.invalid)"]


@pytest.fixture(scope="module")
def impatient_rabbitmq(tmp_path_factory):
    """A node of the module's own that closes a channel holding a delivery unacked for a second."""
    if rabbitmq_nodes.scripts_dir() is None:
        pytest.skip("rabbitmq-server is not installed")
    with rabbitmq_nodes.private_node(tmp_path_factory.mktemp("impatient"),
                                     config=f"consumer_timeout = {CONSUMER_TIMEOUT_MS}\n",
                                     advanced="[{rabbit, [{channel_tick_interval, 200}]}].\n") as node:
        broker = RabbitMQ(node.url(), node.ctl)
        vhost = broker.new_vhost()
        yield broker.url(vhost)
        broker.delete_vhosts([vhost])


def test_the_node_closes_a_consumer_that_holds_a_delivery_past_its_timeout(impatient_rabbitmq):
    with pika.BlockingConnection(pika.URLParameters(impatient_rabbitmq)) as connection:
        channel = connection.channel()
        channel.queue_declare("held", arguments={"x-expires": 60_000})
        channel.basic_publish("", "held", b"x")
        channel.basic_consume("held", lambda *_: None)
        deadline = time.monotonic() + 3 * CONSUMER_TIMEOUT_MS / 1000 + 5
        while channel.is_open and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)
        assert channel.is_closed


def publish_outcomes(url: str, *messages) -> None:
    with Publisher(url) as publisher:
        publisher.publish_many(list(messages))


def test_following_a_broadcast_outlives_the_consumer_timeout_and_hides_nothing(impatient_rabbitmq):
    url = impatient_rabbitmq
    event_id = str(uuid.uuid4())
    results.declare(url, topo.build(), event_id, 60_000)
    publish_outcomes(url, results.queued(event_id), outcomes.result(event_id, outcomes.PLANNED, total=2))
    reader = results.Reader(url, event_id)
    try:
        assert reader.start()
        publish_outcomes(url, outcomes.sent_report(event_id, [{"message_id": "<1@x>", "sender": "s",
                                                                "recipient": "a@example.org", "attempts": 1}]))
        time.sleep(3 * CONSUMER_TIMEOUT_MS / 1000 + 1)
        assert results.find(url, event_id) == [event_id]
        assert results.read_all(url, event_id).done == 1
        publish_outcomes(url, outcomes.sent_report(event_id, [{"message_id": "<2@x>", "sender": "s",
                                                                "recipient": "b@example.org", "attempts": 1}]))
        wait_for(lambda: reader.snapshot().finished, what="both emails followed")
    finally:
        reader.stop()
    assert reader.snapshot().summary() == ["Successfully sent 2 of 2 emails"]
    assert results.read_all(url, event_id).done == 2

