"""The broker goes away mid-run (connection cut, RabbitMQ stopped): the consumer recovers, nothing is lost.

Each test prints its counts (sent, duplicated, lost by Message-ID); duplicates are
allowed up to the prefetch window (acks lost with the connection) and carry the same
Message-ID, so the counts are taken by Message-ID. The tests that stop RabbitMQ or raise
its memory alarm do it to the session's private node (``private_broker``), never to the
broker other test runs share.
"""

from __future__ import annotations

import subprocess
import time
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

from events import topology as topo
from events.broker import queue_depths

from .conftest import wait_for
from .faults import Proxy, SlowHandler, counts

PREFETCH = 20
EVENTS = 50  # two mails each (root and alice)


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit((parts.scheme, f"{auth}@127.0.0.1:{port}", parts.path, "", ""))


@pytest.fixture
def proxy(rabbitmq):
    proxy = Proxy(rabbitmq.host, rabbitmq.port)
    yield proxy
    proxy.close()


def test_a_cut_broker_connection_is_recovered_and_no_mail_is_lost(make_service, publish, start_smtp, props, proxy):
    server = start_smtp(SlowHandler())
    service = make_service(omero__mail__port=str(server.port), omero__mail__consumer__prefetch=str(PREFETCH),
                           omero__mail__broker__url=through(props["omero.mail.broker.url"], proxy.port))
    for _ in range(EVENTS):
        publish("server.startup")
    wait_for(lambda: len(server.handler.received) >= 20, timeout=30, what="the run under way")
    proxy.cut()
    time.sleep(2)  # the outage: reconnects meanwhile are refused
    proxy.restore()
    wait_for(lambda: counts(server, 2 * EVENTS)["lost"] == 0, timeout=60, what="every mail delivered")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
             what="the queues drained")
    result = counts(server, 2 * EVENTS)
    print(f"connection cut: {result}")
    assert result["lost"] == 0 and result["duplicated"] <= PREFETCH
    assert service.service.consumer.reconnects >= 1


def test_rabbitmq_closing_every_connection_of_the_vhost_mid_run_loses_no_mail(make_service, publish, start_smtp,
                                                                              props, rabbitmq):
    server = start_smtp(SlowHandler())
    service = make_service(omero__mail__port=str(server.port), omero__mail__consumer__prefetch=str(PREFETCH))
    for _ in range(EVENTS):
        publish("server.startup")
    wait_for(lambda: len(server.handler.received) >= 20, timeout=30, what="the run under way")
    vhost = unquote(urlsplit(props["omero.mail.broker.url"]).path.lstrip("/"))
    rabbitmq.ctl("close_all_connections", "-p", vhost, "test: broker going away")
    wait_for(lambda: counts(server, 2 * EVENTS)["lost"] == 0, timeout=60, what="every mail delivered")
    result = counts(server, 2 * EVENTS)
    print(f"connections closed by rabbitmq: {result}")
    assert result["lost"] == 0 and result["duplicated"] <= PREFETCH
    assert service.service.consumer.reconnects >= 1


@pytest.mark.private_broker
def test_rabbitmq_stopped_and_started_mid_run_loses_no_mail(make_service, publish, start_smtp, private_rabbitmq):
    server = start_smtp(SlowHandler())
    service = make_service(omero__mail__port=str(server.port), omero__mail__consumer__prefetch=str(PREFETCH))
    for _ in range(EVENTS):
        publish("server.startup")
    wait_for(lambda: len(server.handler.received) >= 20, timeout=30, what="the run under way")
    try:
        private_rabbitmq.ctl("stop_app")
    finally:
        private_rabbitmq.ctl("start_app")
    wait_for(lambda: counts(server, 2 * EVENTS)["lost"] == 0, timeout=90, what="every mail delivered")
    result = counts(server, 2 * EVENTS)
    print(f"rabbitmq restarted: {result}")
    assert result["lost"] == 0 and result["duplicated"] <= PREFETCH
    assert service.service.consumer.reconnects >= 1


def test_a_publisher_whose_connection_was_cut_publishes_again_and_is_confirmed(amqp_url, proxy):
    from events.broker import Message, Publisher, declare_topology

    declare_topology(amqp_url, topo.build())
    with Publisher(through(amqp_url, proxy.port), timeout=5) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, b"{}", "first"))
        proxy.cut()
        proxy.restore()
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, b"{}", "second"))
    assert queue_depths(amqp_url, [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE] == 2


@pytest.mark.private_broker
def test_a_publisher_blocked_by_a_memory_alarm_fails_with_a_clear_error(amqp_url, private_rabbitmq):
    from events.broker import Message, PublishError, Publisher, declare_topology

    declare_topology(amqp_url, topo.build())
    publisher = Publisher(amqp_url, timeout=1)
    ctl = private_rabbitmq.ctl
    watermark = ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").stdout.decode().strip()
    float(watermark)  # a relative watermark, restored for the next test on the private node
    try:
        ctl("set_vm_memory_high_watermark", "0.0000001")
        with pytest.raises(PublishError, match="blocked"):
            publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, b"{}", "blocked"))
    finally:
        ctl("set_vm_memory_high_watermark", watermark)
        publisher.close()


def test_quorum_queues_are_declared_with_the_delivery_limit(amqp_url):
    from events.broker import declare_topology

    declare_topology(amqp_url, topo.build((1000,), queue_type="quorum", delivery_limit=3))
    vhost = urlsplit(amqp_url).path.lstrip("/").replace("%2F", "/")
    listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "arguments"],
                            capture_output=True, text=True, check=True).stdout
    outbox = next(line for line in listed.splitlines() if line.startswith(topo.OUTBOX_QUEUE + "\t"))
    assert "quorum" in outbox and '"x-delivery-limit",3' in outbox.replace(" ", "")
    assert f'{{"x-dead-letter-routing-key","{topo.FAILED_KEY}"}}' in outbox.replace(" ", "")


def test_the_consumer_delivers_through_quorum_queues(make_service, smtp_server, props):
    from events.broker import Message, Publisher
    from events.schemas import new_event

    make_service(omero__mail__queue__type="quorum")
    event = new_event("server.startup", {}, source="tests")
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    smtp_server.wait_for_messages(2)
