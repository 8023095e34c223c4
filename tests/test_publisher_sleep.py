"""A publisher waiting between publishes keeps its connection: :meth:`Publisher.sleep`
drives the connection's I/O loop, so heartbeats are answered while it waits."""

from __future__ import annotations

import time
from urllib.parse import unquote, urlsplit

from events import topology as topo
from events.broker import Message, Publisher, declare_topology, queue_depths


def client_ports(rabbitmq, url: str) -> list[str]:
    """The client ports of the connections RabbitMQ has open on the URL's vhost."""
    vhost = unquote(urlsplit(url).path.lstrip("/"))
    listed = rabbitmq.ctl("list_connections", "-q", "--no-table-headers", "vhost", "peer_port").stdout.decode()
    rows = (line.partition("\t") for line in listed.splitlines())
    return sorted(port for name, _, port in rows if name == vhost)


def outbox_message(message_id: str) -> Message:
    return Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, b"{}", message_id)


def test_a_publisher_sleeping_five_heartbeats_long_publishes_again_on_the_same_connection(amqp_url, rabbitmq):
    declare_topology(amqp_url, topo.build())
    with Publisher(amqp_url + "?heartbeat=1", timeout=5) as publisher:
        publisher.publish(outbox_message("before"))
        before = client_ports(rabbitmq, amqp_url)
        publisher.sleep(5)
        publisher.publish(outbox_message("after"))
        after = client_ports(rabbitmq, amqp_url)
    assert len(before) == 1 and after == before
    assert queue_depths(amqp_url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 2


def test_a_publisher_with_no_connection_open_sleeps_like_time_sleep():
    publisher = Publisher("amqp://guest:guest@127.0.0.1:1/%2F")
    started = time.monotonic()
    publisher.sleep(0.3)
    assert 0.3 <= time.monotonic() - started < 1.0
