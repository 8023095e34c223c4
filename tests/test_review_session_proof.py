"""Review: the session proof vouches for the moment the publisher chose.

The rules stage checks that the admin's session was live at the event's ``occurred_at``, and
``occurred_at`` is the publisher's to write. So a session key that OMERO closed long ago (kept
in OMERO.web's session store, a browser, a backup: OMERO never deletes its ``session`` rows)
with the web app's broker password still proves a broadcast today, dated back to when that
session was open. Fixed: a web app broadcast older than omero.mail.dedupe.window is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from events import topology as topo
from events.broker import Message, Publisher
from events.schemas import load_event
from events.session_proof import session_proof, with_session_proof

from .test_identities import (BROADCAST, accounts, grant_sessions, omero, omero_stages, people,  # noqa: F401
                              site)

pytestmark = pytest.mark.private_broker


def test_a_session_closed_a_month_ago_proves_no_broadcast_dated_back_to_when_it_was_open(
        site, omero, make_service, smtp_server):  # noqa: F811
    grant_sessions(omero)
    now = datetime.now(timezone.utc)
    key = omero.open_session(0, started=now - timedelta(days=31), closed=now - timedelta(days=30))
    event = with_session_proof(load_event({
        "id": "6f0e3c38-8a1e-4f57-9d3a-0b7f1c2e4d5a", "type": "admin.broadcast", "source": "omero-web",
        "occurred_at": (now - timedelta(days=30, hours=12)).isoformat(), "data": {**BROADCAST}}), session_proof(key))
    omero_stages(site, make_service, omero)
    with Publisher(site.url("webapp"), attempts=1, timeout=10) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    from .conftest import wait_for
    from events.broker import queue_depths

    wait_for(lambda: smtp_server.received or queue_depths(site.guest_url, [topo.INVALID_QUEUE])[topo.INVALID_QUEUE],
             what="the broadcast mailed or parked")
    assert smtp_server.received == []
