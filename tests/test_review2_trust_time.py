"""Review: the age bound on the web app's broadcasts is judged by the instant, whatever the offset.

What held: ``occurred_at`` is compared as an instant, so an offset far from UTC neither ages
nor rejuvenates a broadcast, and an ``occurred_at`` without an offset is invalid before any
trust is asked of it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from events.schemas import load_event
from events.session_proof import with_session_proof

from .test_session_proof import CHECKED, KEY, PROOF, WEBAPP, Sessions, broadcast

KIRITIMATI, BAKER = timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))


def made(at: datetime):
    """A proved broadcast of root's made at ``at``, as the rules stage loads it."""
    body = json.loads(broadcast("root").to_json())
    body["occurred_at"] = at.isoformat()
    return load_event(with_session_proof(load_event(json.dumps(body)), PROOF).to_json())


@pytest.mark.parametrize("zone", [KIRITIMATI, BAKER])
def test_a_broadcast_made_now_in_any_offset_is_trusted(zone):
    event = made(datetime.now(zone))
    assert CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions(("root", KEY))) is None


def test_a_broadcast_made_a_day_ago_is_refused_though_its_offset_puts_its_wall_clock_ahead():
    event = made(datetime.now(KIRITIMATI) - timedelta(hours=25))
    refusal = CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions(("root", KEY)))
    assert "trusted only within omero.mail.dedupe.window" in refusal


def test_a_broadcast_made_without_an_offset_is_invalid_before_any_trust():
    body = json.loads(broadcast("root").to_json())
    body["occurred_at"] = datetime.now().replace(tzinfo=None).isoformat()
    with pytest.raises(ValueError):
        load_event(json.dumps(body))
