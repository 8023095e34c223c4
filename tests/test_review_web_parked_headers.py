"""Review: what a publisher writes in its message's headers reaches the invalid lot as written.

The rules stage parks an invalid event with the headers it came with (``worker._invalid``),
so any broker user allowed to publish one event type (the OMERO.web hooks' ``web.error``)
chooses the ``x-omero-mail-attempts`` a parked copy carries. A count that is not a number
must not take the lot's page down (nor ``omero-mail invalid list``): nobody could see or
purge anything there any more.
"""

from __future__ import annotations

import json
import uuid

from consumer import outcomes
from events import topology as topo
from events.broker import Message, Publisher

from .conftest import wait_for
from .faults import parked


def test_an_invalid_event_whose_publisher_wrote_a_bad_attempt_count_still_lists_with_its_lot(
        props, web_app, make_service, publish):
    from .webapp import Client

    make_service(stages=("rules",))
    url = props["omero.mail.broker.url"]
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, "web.error", json.dumps({"type": "web.error"}).encode(),
                                  str(uuid.uuid4()), {outcomes.ATTEMPTS: "many"}))
    wait_for(lambda: parked(url, topo.INVALID_QUEUE), what="the event parked")
    client = Client(web_app())
    assert client.login()[0] == 302
    status, _, page = client.get("parking/invalid/")
    assert status == 200 and "1 message(s)" in page
