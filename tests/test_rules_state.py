"""The rules stage plans an event id once, remembers it across restarts, and says so at start
when an older omero.mail.events queue is in the way. Real broker, real SMTP server."""

from __future__ import annotations

import time

import pika
import pytest

from consumer.stages.service import Service
from events import topology as topo
from events.broker import Message, Publisher, TopologyRefused
from events.schemas import new_event

from .test_cli import omero_mail

ADMINS = 2  # the example senders mail server.startup to root and alice


def publish_copies(url: str, event, copies: int) -> None:
    with Publisher(url) as publisher:
        publisher.publish_many([Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id)] * copies)


def handled_up_to_here(url: str, smtp_server, mails_before: int) -> None:
    """Publish one more event and wait for its mails: the rules stage has decided on all before it."""
    publish_copies(url, new_event("server.shutdown", {}, source="tests"), 1)
    smtp_server.wait_for_messages(mails_before + ADMINS)
    time.sleep(0.5)


def test_an_event_published_twice_is_mailed_once_per_recipient(make_service, smtp_server, props):
    url = props["omero.mail.broker.url"]
    make_service()
    event = new_event("server.startup", {}, source="tests")
    publish_copies(url, event, 2)
    smtp_server.wait_for_messages(ADMINS)
    handled_up_to_here(url, smtp_server, ADMINS)
    assert sum(m["Subject"] == "[OMERO] Server started" for m in smtp_server.messages) == ADMINS


def test_a_restarted_rules_stage_still_knows_the_events_it_planned(make_service, smtp_server, props):
    url = props["omero.mail.broker.url"]
    event = new_event("server.startup", {}, source="tests")
    first = make_service()
    publish_copies(url, event, 1)
    smtp_server.wait_for_messages(ADMINS)
    first.stop()
    make_service()
    publish_copies(url, event, 1)
    handled_up_to_here(url, smtp_server, ADMINS)
    assert len(smtp_server.messages) == 2 * ADMINS


def test_an_events_queue_made_by_an_older_version_stops_the_consumer_with_one_line(amqp_url, props):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    connection.channel().queue_declare(topo.EVENTS_QUEUE, durable=True, arguments={"x-queue-type": "classic"})
    connection.close()
    with pytest.raises(TopologyRefused) as refused:
        Service(props).run()
    assert "x-single-active-consumer" in str(refused.value) and "Upgrading" in str(refused.value)
    result = omero_mail("consume", env={"OMERO_MAIL_BROKER_URL": amqp_url,
                                        "OMERO_MAIL_SENDERS_DIR": props["omero.mail.senders.dir"]})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("omero-mail: error: RabbitMQ refused the topology")
