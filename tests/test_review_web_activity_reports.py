"""Review: a report in omero.mail.activity that is JSON of the right shape but wrong values.

``Report.from_json`` promises that the page "skips what it cannot read"; these bodies pass it
and then broke every Health page (500) for as long as the queue keeps them (six hours). The
reports are published to the test's vhost as any broker user allowed to write
``omero.mail`` may (each stage's user; anyone, with the publishers unchecked).
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from consumer.access.definitions import topology_for
from events import topology as topo
from events.broker import Message, Publisher, declare_topology

from .webapp import Client


def report(**changed) -> bytes:
    now = time.time()
    fields = {"process": uuid.uuid4().hex[:12], "host": "h", "pid": 1, "stages": ["rules", "delivery"],
              "since": now - 60, "at": now, "interval": 60, "connected": True, "receiving": [], "sent": 1,
              "failed": 0, "retrying": 0, "events": 1, "invalid": 0, "bridge": None, "stopping": False}
    fields.update(changed)
    return json.dumps(fields).encode()


BAD = {
    "a process that is a list": report(process=["p"]),
    "a time far beyond any clock": report(at=1e300, since=1e300 - 60),
    "a time that is not a number": b'{"process":"p","host":"h","pid":1,"stages":["rules"],"since":NaN,"at":NaN,'
                                   b'"interval":60,"connected":true}',
    "a bridge time that is text": report(bridge={"events": 1, "last_occurred_at": "soon", "last_lag": 0,
                                                 "max_lag": 0}),
    "stages that are a number": report(stages=3),
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_a_malformed_activity_report_is_skipped_and_the_health_page_still_answers(web_app, props, body):
    url = props["omero.mail.broker.url"]
    declare_topology(url, topology_for(props))
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.ACTIVITY_KEY, report(), uuid.uuid4().hex))
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.ACTIVITY_KEY, body, uuid.uuid4().hex))
    client = Client(web_app())
    assert client.login()[0] == 302
    status, _, page = client.get("health/")
    assert status == 200 and "Active: h (pid 1)" in page
    assert client.get("health.json")[0] == 200
