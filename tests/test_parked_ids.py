"""Invalid events that came without an AMQP message id can still be told apart and picked."""

from __future__ import annotations

import os
import subprocess
import sys

from events import topology as topo
from events.broker import Message, Publisher

from .conftest import wait_for
from .faults import parked

EVENT_ID = "2b0e5d1c-8e5e-4fad-8c22-3c58af2a1e87"


def omero_mail(url, *args):
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, OMERO_MAIL_BROKER_URL=url), timeout=60, stdin=subprocess.DEVNULL)


def publish_without_message_id(url: str, *bodies: bytes) -> None:
    with Publisher(url) as publisher:
        publisher.publish_many([Message(topo.EVENTS_EXCHANGE, "login.failed", body, "") for body in bodies])


def invalid_ids(url: str) -> list[str]:
    return [p.message_id for p in parked(url, topo.INVALID_QUEUE)]


def test_an_invalid_event_without_a_message_id_is_parked_under_its_own_id(make_service, props):
    url = props["omero.mail.broker.url"]
    make_service(stages=("rules",))
    publish_without_message_id(url, b'{"id": "%s", "type": "login.failed"}' % EVENT_ID.encode())
    wait_for(lambda: invalid_ids(url), what="the event parked")
    assert invalid_ids(url) == [EVENT_ID]


def test_invalid_events_without_any_id_get_distinct_ids_that_show_picks(make_service, props):
    url = props["omero.mail.broker.url"]
    make_service(stages=("rules",))
    publish_without_message_id(url, b"not json", b"not json")
    wait_for(lambda: len(invalid_ids(url)) == 2, what="both parked")
    first, second = invalid_ids(url)
    assert first[:11] != second[:11]
    shown = omero_mail(url, "invalid", "show", first[:11])
    assert shown.returncode == 0, shown.stderr
    assert f"id: {first}" in shown.stdout
