"""Random event bodies through the real broker and the whole consumer: every bad one is
parked in ``omero.mail.invalid`` with a reason, every good one is delivered.

Property-style with a fixed seed and a bounded count (the bodies are real messages on a
real broker, so they are made up front rather than shrunk by hypothesis).
"""

from __future__ import annotations

import json
import random
import uuid

import pika

from events import topology as topo
from events.broker import Message, Publisher, queue_depths
from events.schemas import InvalidEvent, load_event

from .conftest import wait_for

BODIES = 60
HOSTILE = ["root\r\nBcc: x@evil.example", "\x00\x01", "é" * 50, "=?utf-8?b?AAAA?=", "", "." * 1100, "日本"]


def good_event(rng: random.Random) -> dict:
    return {"id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "type": "server.startup",
            "occurred_at": "2026-11-23T10:00:00+00:00", "source": rng.choice(HOSTILE),
            "data": {"server": rng.choice(HOSTILE)}, rng.choice(HOSTILE) or "x": rng.choice(HOSTILE)}


def mangle(rng: random.Random, event: dict) -> bytes:
    """One of the ways a body goes wrong."""
    body = json.dumps(event).encode()
    how = rng.randrange(9)
    if how == 0:
        return body[:rng.randrange(len(body))]
    if how == 1:
        return rng.randbytes(rng.randrange(1, 80))
    if how == 2:
        return b"\xff\xfe" + body
    if how == 3:
        return json.dumps(rng.choice([[], "event", 42, None, [event]])).encode()
    if how == 4:
        return json.dumps({**event, "id": rng.choice(HOSTILE)}).encode()
    if how == 5:
        return json.dumps({**event, "type": rng.choice(HOSTILE + ["image.deleted"])}).encode()
    if how == 6:
        return json.dumps({**event, "occurred_at": rng.choice(["yesterday", "2026-11-23T10:00:00", 0])}).encode()
    if how == 7:
        return json.dumps({**event, "data": rng.choice([[], "x", 1])}).encode()
    return json.dumps({**event, "type": "login.failed", "data": {"user": rng.choice([None, 5, ""])}}).encode()


def bodies(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    made = []
    for _ in range(BODIES):
        event = good_event(rng)
        made.append(json.dumps(event).encode() if rng.random() < 0.4 else mangle(rng, event))
    return made


def is_good(body: bytes) -> bool:
    try:
        load_event(body)
    except InvalidEvent:
        return False
    return True


def parked_reasons(url: str) -> list[str]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    reasons = []
    try:
        channel = connection.channel()
        while True:
            method, properties, _body = channel.basic_get(topo.INVALID_QUEUE, auto_ack=True)
            if method is None:
                return reasons
            reasons.append((properties.headers or {}).get("x-omero-mail-reason", ""))
    finally:
        connection.close()


def test_random_bodies_are_each_parked_with_a_reason_or_delivered(make_service, smtp_server, props):
    made = bodies(seed=20261123)
    good = sum(is_good(b) for b in made)
    bad = len(made) - good
    assert good and bad
    make_service()
    url = props["omero.mail.broker.url"]
    rng = random.Random(1)
    with Publisher(url) as publisher:
        publisher.publish_many([
            Message(topo.EVENTS_EXCHANGE, "server.startup", body, f"fuzz-{n}",
                    headers={"x-fuzz": rng.choice(HOSTILE)}, content_type=rng.choice(["application/json", "text/x"]))
            for n, body in enumerate(made)])
    smtp_server.wait_for_messages(2 * good, timeout=60)
    wait_for(lambda: queue_depths(url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE] == bad, timeout=30,
             what=f"{bad} bad bodies parked")
    wait_for(lambda: sum(queue_depths(url, [topo.EVENTS_QUEUE, topo.OUTBOX_QUEUE]).values()) == 0,
             what="every event and mail handled")
    reasons = parked_reasons(url)
    assert len(reasons) == bad and all(reasons)
    assert len(smtp_server.received) == 2 * good
