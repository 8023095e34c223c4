"""Poison messages: counted per message id and parked after a limit, never looping forever."""

from __future__ import annotations

from consumer import outcomes

from consumer.admin import parking
from consumer.stages.worker import Crashes
from events import topology as topo
from events.broker import Message, Publisher, declare_topology, queue_depths

from .conftest import wait_for
from .faults import outbox_mail, parked


def test_a_message_is_declared_poison_on_its_limitth_crash():
    crashes = Crashes(limit=3)
    assert [crashes.record("<a@x>", b"") for _ in range(3)] == [False, False, True]


def test_a_message_past_its_limit_stays_poison_so_a_failed_parking_is_tried_again_at_once():
    crashes = Crashes(limit=2)
    assert [crashes.record("<a@x>", b"") for _ in range(4)] == [False, True, True, True]


def test_crashes_of_different_messages_are_counted_apart():
    crashes = Crashes(limit=2)
    assert crashes.record("<a@x>", b"") is False
    assert crashes.record("<b@x>", b"") is False
    assert crashes.record("<a@x>", b"") is True


def test_a_message_without_an_id_is_counted_by_its_body():
    crashes = Crashes(limit=2)
    assert crashes.record(None, b"one") is False
    assert crashes.record(None, b"two") is False
    assert crashes.record(None, b"one") is True


def test_only_the_most_recent_messages_are_remembered():
    crashes = Crashes(limit=2, remember=2)
    for message_id in ("<a@x>", "<b@x>", "<c@x>"):
        crashes.record(message_id, b"")
    assert crashes.record("<a@x>", b"") is False


def test_an_event_that_keeps_crashing_the_rules_stage_is_parked_with_the_reason(make_service, publish, props):
    service = make_service(stages=("rules",))
    service.service.rules.planners["server.startup"] = lambda event: None  # a planner with a bug
    publish("server.startup")
    url = props["omero.mail.broker.url"]
    wait_for(lambda: parked(url, topo.INVALID_QUEUE), what="the event parked")
    [copy] = parked(url, topo.INVALID_QUEUE)
    assert "rules stage crashed 5 times" in copy.headers[outcomes.REASON]
    assert queue_depths(url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 0


def test_a_quorum_queue_dead_letters_a_message_past_its_delivery_limit_to_the_parking_lot(amqp_url):
    declare_topology(amqp_url, topo.build((1000,), queue_type="quorum", delivery_limit=2))
    mail = outbox_mail("root@example.org")
    with Publisher(amqp_url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, mail.to_json(),
                                  mail.message_id))
    for _ in range(3):  # each read given back is one delivery more
        parked(amqp_url, topo.OUTBOX_QUEUE)
    wait_for(lambda: parked(amqp_url), what="the message dead-lettered")
    [entry] = [parking.entry(p) for p in parked(amqp_url)]
    assert entry.id == mail.message_id.strip("<>")
    assert entry.error.startswith(f"dead-lettered from {topo.OUTBOX_QUEUE}")
