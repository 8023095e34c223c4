"""The RabbitMQ definitions in deploy/ are generated from the topology, load into a real
broker, and agree with what the consumer declares (no 406 PRECONDITION_FAILED)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from urllib.parse import unquote

import pytest

from events.config import DEFAULTS, Properties
from consumer.access.definitions import declared, definitions, render, topology_for
from events import topology as topo
from events.broker import Message, Publisher, admin, declare_topology
from events.schemas import new_event

from .conftest import ROOT, wait_for

DEPLOY = ROOT / "deploy" / "rabbitmq"
PARKING_LOTS = (topo.FAILED_QUEUE, topo.INVALID_QUEUE)


@pytest.mark.parametrize("name, queue_type", [("definitions.json", "classic"), ("definitions-quorum.json", "quorum")])
def test_the_checked_in_definitions_are_the_generated_ones(name, queue_type):
    assert (DEPLOY / name).read_text() == render(definitions(topo.build(queue_type=queue_type), "/")), \
        f"regenerate with: omero-mail definitions --queue-type {queue_type} -o deploy/rabbitmq/{name}"


def test_each_retry_queue_gets_its_ttl_and_dead_letter_route_from_a_policy():
    policies = {p["name"]: p for p in definitions(topo.build((30_000, 300_000)), "/")["policies"]}
    assert policies["omero.mail.retry.5m"]["definition"] == {
        "message-ttl": 300_000, "dead-letter-exchange": topo.MAIL_EXCHANGE, "dead-letter-routing-key": topo.OUTBOX_KEY}
    assert policies["omero.mail.retry.5m"]["pattern"] == r"^omero\.mail\.retry\.5m$"


def test_queues_in_the_definitions_carry_only_their_type_and_the_events_queue_its_single_active_consumer():
    queues = {q["name"]: q["arguments"] for q in definitions(topo.build(queue_type="quorum"), "/")["queues"]}
    assert queues.pop(topo.EVENTS_QUEUE) == {"x-queue-type": "quorum", "x-single-active-consumer": True}
    assert queues.pop(topo.STATE_STREAM) == {"x-queue-type": "stream"}
    assert all(arguments == {"x-queue-type": "quorum"} for arguments in queues.values())


def test_quorum_queues_dead_letter_at_least_once_by_policy():
    quorum = definitions(topo.build((30_000,), queue_type="quorum"), "/")
    policies = {p["name"]: p["definition"] for p in quorum["policies"]}
    for name in (topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE, "omero.mail.retry.30s"):
        assert policies[name]["dead-letter-strategy"] == "at-least-once"
        assert policies[name]["overflow"] == "reject-publish"


def test_the_state_stream_is_trimmed_by_age_by_policy():
    policy = {p["name"]: p["definition"] for p in definitions(topo.build(state_max_age_s=3600), "/")["policies"]}
    assert policy[topo.STATE_STREAM]["max-age"] == "3600s"


def test_with_policies_on_the_consumer_declares_no_policy_arguments():
    props = Properties({"omero.mail.queue.policies": "true", "omero.mail.queue.type": "quorum"})
    allowed = {"x-queue-type", "x-single-active-consumer"}
    assert all(set(q.arguments) <= allowed for q in topology_for(props).queues)


def load(rabbitmq, url: str, document: dict) -> None:
    """Import definitions into the test's vhost with RabbitMQ's own importer, and wait for them.

    rabbitmqctl reads the file as the broker's user, so it goes to a world-readable
    temporary file; the import is asynchronous, and bindings are imported last.
    """
    vhost = url.rsplit("/", 1)[1]
    text = json.dumps(document).replace('"vhost": "/"', json.dumps({"vhost": vhost})[1:-1])
    text = text.replace('{"name": "/"}', json.dumps({"name": vhost}))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
        out.write(text)
    try:
        os.chmod(out.name, 0o644)
        rabbitmq.ctl("import_definitions", out.name)
    finally:
        os.unlink(out.name)
    expected = {(b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]}

    def bindings():
        listed = rabbitmq.ctl("list_bindings", "-q", "-p", vhost, "source_name", "destination_name", "routing_key")
        return {tuple(line.split("\t")) for line in listed.stdout.decode().splitlines()}

    wait_for(lambda: expected <= bindings(), what="the definitions imported")


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_the_consumers_declarations_agree_with_the_loaded_definitions(rabbitmq, amqp_url, queue_type):
    topology = topo.build(queue_type=queue_type)
    load(rabbitmq, amqp_url, definitions(topology, "/"))
    declare_topology(amqp_url, declared(topology))


def publish_event(url: str, kind: str) -> None:
    event = new_event(kind, {}, source="tests")
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))


def test_the_consumer_delivers_against_the_checked_in_definitions(rabbitmq, props, make_service, smtp_server):
    url = props["omero.mail.broker.url"]
    load(rabbitmq, url, json.loads((DEPLOY / "definitions.json").read_text()))
    make_service(omero__mail__queue__policies="true", omero__mail__retry__delays=DEFAULTS["omero.mail.retry.delays"])
    publish_event(url, "server.startup")
    smtp_server.wait_for_messages(2)


def test_a_retry_queue_loaded_from_the_definitions_returns_mail_to_the_outbox(rabbitmq, props, make_service,
                                                                             smtp_server):
    url = props["omero.mail.broker.url"]
    load(rabbitmq, url, definitions(topo.from_properties(props), "/"))
    make_service(omero__mail__queue__policies="true")
    mail = {"message_id": "<retry@example.org>", "event_id": str(uuid.uuid4()), "event_type": "server.startup",
            "sender": "serverUpMailSender", "mail_from": "omero@example.org", "to": "root@example.org",
            "subject": "s", "text": "t"}
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.retry_key(1000), json.dumps(mail).encode(),
                                  mail["message_id"]))
    messages = smtp_server.wait_for_messages(1)
    assert messages[0]["Message-ID"] == "<retry@example.org>"


def test_a_parking_lot_on_quorum_has_no_delivery_limit_on_rabbitmq_3_and_an_unlimited_one_on_4():
    """RabbitMQ 4.0 gave quorum queues a delivery limit of 20 (-1: none); 3.x has none, and takes -1 as a limit."""
    lots = {q.name: q for q in topo.build(queue_type="quorum").queues if q.name in PARKING_LOTS}
    assert all("x-delivery-limit" not in lot.arguments_on(3) for lot in lots.values())
    assert all(lot.arguments_on(4)["x-delivery-limit"] == -1 for lot in lots.values())
    assert all(not q.from_4 for q in topo.build(queue_type="classic").queues)


def test_the_definitions_for_rabbitmq_4_keep_parked_messages_by_a_policy_rabbitmq_3_never_gets():
    def lot_policies(rabbitmq):
        document = definitions(topo.build(queue_type="quorum"), "/", rabbitmq=rabbitmq)
        return {p["name"]: p["definition"] for p in document["policies"] if p["name"] in PARKING_LOTS}

    assert lot_policies(3) == {}
    assert lot_policies(4) == {name: {"delivery-limit": -1} for name in PARKING_LOTS}


def queue_arguments(rabbitmq, url: str, name: str) -> str:
    vhost = unquote(url.rsplit("/", 1)[1])
    listed = rabbitmq.ctl("list_queues", "-q", "-p", vhost, "name", "arguments").stdout.decode()
    [line] = [line for line in listed.splitlines() if line.split("\t")[0] == name]
    return line


def test_this_machines_rabbitmq_3_gets_no_delivery_limit_on_its_parking_lots(rabbitmq, amqp_url):
    declare_topology(amqp_url, topo.build(queue_type="quorum"))
    assert "x-delivery-limit" not in queue_arguments(rabbitmq, amqp_url, topo.FAILED_QUEUE)


def test_rabbitmq_4_gets_the_unlimited_delivery_limit_on_its_parking_lots(rabbitmq, amqp_url, monkeypatch):
    monkeypatch.setattr(admin, "rabbitmq_major", lambda connection: 4)
    declare_topology(amqp_url, topo.build(queue_type="quorum"))
    assert '{"x-delivery-limit",-1}' in queue_arguments(rabbitmq, amqp_url, topo.FAILED_QUEUE)


def test_a_parking_lot_made_before_rabbitmq_4_is_used_as_it_is_with_a_warning(rabbitmq, amqp_url, monkeypatch,
                                                                              caplog):
    declare_topology(amqp_url, topo.build(queue_type="quorum"))
    monkeypatch.setattr(admin, "rabbitmq_major", lambda connection: 4)
    with caplog.at_level("WARNING", "events.broker.admin"):
        declare_topology(amqp_url, topo.build(queue_type="quorum"))
    warnings = [r.getMessage() for r in caplog.records if r.name == "events.broker.admin"]
    assert sorted(line.split()[0] for line in warnings) == sorted(PARKING_LOTS)
    assert all("x-delivery-limit=-1" in line for line in warnings)


def test_definitions_to_a_file_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, capsys):
    from consumer.admin import cli

    assert cli.main(["definitions", "-o", str(tmp_path / "missing" / "site.json")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"omero-mail: error: cannot write {tmp_path / 'missing' / 'site.json'}: No such file or directory"]
