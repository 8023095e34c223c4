"""Review: the web process's broadcast readers, against a RabbitMQ node of the test's own.

What held: two hundred broadcasts followed and then left by their pages leave no reader, no
thread and no connection once their idle time has passed; a broadcast followed while RabbitMQ
restarts counts what was sent after the restart, and its page reaches the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from urllib.parse import unquote, urlsplit

import pytest

from consumer import outcomes
from consumer.admin import results
from consumer.admin.web import following
from events import topology as topo
from events.broker import Publisher, declare_topology
from events.broker.errors import BrokerError

from .conftest import wait_for

BROADCASTS = 200
EXPIRES_MS = 600_000


def readers_running() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "broadcast-results")


def connections(broker, url: str) -> int:
    vhost = unquote(urlsplit(url).path[1:])
    listed = broker.ctl("-q", "list_connections", "vhost").stdout.decode().split()
    return listed.count(vhost)


def publish_outcomes(url: str, event_id: str, *reports: tuple[str, dict]) -> None:
    with Publisher(url, timeout=10) as publisher:
        publisher.publish_many([outcomes.result(event_id, outcome, **fields) for outcome, fields in reports])


def a_broadcast(url: str) -> str:
    event_id = str(uuid.uuid4())
    results.declare(url, topo.build(), event_id, EXPIRES_MS)
    return event_id


@pytest.mark.private_broker
def test_two_hundred_broadcasts_followed_then_left_hold_no_reader_thread_or_connection(amqp_url, private_rabbitmq):
    declare_topology(amqp_url, topo.build())
    before = readers_running()
    now = [0.0]
    kept: following.Kept[results.Reader] = following.Kept(idle=1.0, clock=lambda: now[0])
    for event_id in [a_broadcast(amqp_url) for _ in range(BROADCASTS)]:
        kept.use(event_id, lambda event_id=event_id: results.Reader(amqp_url, event_id, gather=following.GATHER))
    assert len(kept) == BROADCASTS and readers_running() == before + BROADCASTS
    now[0] += 2.0  # the pages stopped polling a second (their idle time) ago
    wait_for(lambda: len(kept) == 0 and readers_running() == before, 30, what="every reader stopped")
    wait_for(lambda: connections(private_rabbitmq, amqp_url) == 0, 30, what="every reader's connection closed")


@pytest.mark.private_broker
def test_a_broadcast_followed_while_rabbitmq_restarts_counts_what_was_sent_after(amqp_url, private_rabbitmq):
    declare_topology(amqp_url, topo.build())
    event_id = a_broadcast(amqp_url)
    publish_outcomes(amqp_url, event_id, ("planned", {"total": 2}),
                     ("sent", {"message_id": "<1@example.org>", "recipient": "a@example.org", "attempts": 1}))
    kept: following.Kept[results.Reader] = following.Kept(idle=60.0)
    reader = kept.use(event_id, lambda: results.Reader(amqp_url, event_id, gather=following.GATHER))
    try:
        wait_for(lambda: len(reader.snapshot().sent) == 1, what="the first email counted")
        try:
            private_rabbitmq.ctl("stop_app")
        finally:
            private_rabbitmq.ctl("start_app")
        deadline = time.monotonic() + 30
        while True:
            try:
                publish_outcomes(amqp_url, event_id, ("sent", {"message_id": "<2@example.org>",
                                                               "recipient": "b@example.org", "attempts": 1}))
                break
            except BrokerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        wait_for(lambda: reader.snapshot().finished, 30, what="the broadcast followed to its end")
        assert reader.snapshot().summary() == ["Successfully sent 2 of 2 emails"]
    finally:
        reader.stop()
