"""Broadcast authority is checked by the consumer, whoever published the event: a
broadcast with no requester, an unknown one or a look-alike of an admin's name is parked
with the reason and mails nobody. (The CLI's own check and the non-admin case are in
tests/test_broadcast_cli.py.)"""

from __future__ import annotations

import pika
import pytest

from events import topology as topo
from events.broker import queue_depths

from .conftest import wait_for


def parked_reason(url: str) -> str:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        _method, properties, _body = connection.channel().basic_get(topo.INVALID_QUEUE, auto_ack=True)
    finally:
        connection.close()
    return properties.headers["x-omero-mail-reason"]


@pytest.mark.parametrize("requested_by, reason", [
    (None, "no requesting user"),
    ("mallory", "unknown requesting user 'mallory'"),
    ("root\r\n", "unknown requesting user"),
    ("ROOT", "unknown requesting user 'ROOT'"),
], ids=["missing", "unknown", "root-with-line-break", "root-upper-case"])
def test_a_broadcast_not_requested_by_an_admin_is_parked_by_the_consumer(
        make_service, publish, props, smtp_server, requested_by, reason):
    make_service()
    data = {"subject": "S", "body": "B", "everyone": True}
    if requested_by is not None:
        data["requested_by"] = requested_by
    publish("admin.broadcast", data)
    url = props["omero.mail.broker.url"]
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == 1, what="the broadcast parked")
    assert reason in parked_reason(url)
    assert smtp_server.received == []


def test_whoever_follows_a_refused_broadcast_learns_why(make_service, publish, props):
    from events.schemas import new_event

    from consumer.admin import results
    from events.broker import Message, Publisher

    url = props["omero.mail.broker.url"]
    event = new_event("admin.broadcast", {"subject": "S", "body": "B", "everyone": True, "requested_by": "mallory"})
    publish("server.startup")  # declares the topology
    results.declare(url, topo.from_properties(props), event.id, 60_000)
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    make_service()
    tally = wait_for(lambda: (t := results.read_all(url, event.id)).refused and t, what="the refusal reported")
    assert tally.finished
    assert "unknown requesting user 'mallory'" in tally.refused
    assert tally.summary()[0].startswith("Refused, nothing sent:")
