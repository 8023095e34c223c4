"""Replay and purge from the parking pages: asked first, done only as shown, never for the untrusted.

The messages are parked straight into the lot as the delivery stage parks them (no consumer
runs, so a replayed email stays in the outbox to be counted); the requests are made by hand,
as a browser or an attacker makes them.
"""

from __future__ import annotations

import html
import json
import re
import uuid

import pytest

from consumer import outcomes
from consumer.access.definitions import topology_for
from events import topology as topo
from events.broker import Message, Publisher, declare_topology, queue_depths
from senders.mail import Mail

from .faults import outbox_mail, parked
from .webapp import Client

LOT = "parking/failed/"
ACT = "parking/failed/act/"


def park(props, mails: list[Mail], **headers) -> list[Mail]:
    """``mails`` in omero.mail.failed, refused with 550, with these extra headers."""
    url = props["omero.mail.broker.url"]
    declare_topology(url, topology_for(props))
    with Publisher(url) as publisher:
        publisher.publish_many([Message(topo.MAIL_EXCHANGE, topo.FAILED_KEY, m.to_json(), m.message_id, {
            outcomes.REASON: "550 5.1.1 No such user", outcomes.ATTEMPTS: 1, outcomes.PARKED_AT: outcomes.now_iso(),
            outcomes.RECIPIENT: m.to, outcomes.SENDER: m.sender, **headers}) for m in mails])
    return mails


def lot(props) -> list[str]:
    """The recipients in omero.mail.failed, in order."""
    return [p.headers[outcomes.RECIPIENT] for p in parked(props["omero.mail.broker.url"])]


def key_of(props, recipient: str) -> str:
    return next(p.key for p in parked(props["omero.mail.broker.url"]) if p.headers[outcomes.RECIPIENT] == recipient)


def outbox(props) -> int:
    return queue_depths(props["omero.mail.broker.url"], [topo.OUTBOX_QUEUE])[topo.OUTBOX_QUEUE]


def confirmation(page: str) -> dict:
    """The fields of the confirmation form a dry run shows."""
    form = page[page.index('id="confirmation"'):page.index("</form>", page.index('id="confirmation"'))]
    fields: dict = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(html.unescape(value))
    return fields


@pytest.fixture
def three(props):
    return park(props, [outbox_mail(f"user{n}@example.org") for n in range(3)])


@pytest.fixture
def admin(web_app):
    client = Client(web_app())
    assert client.login()[0] == 302
    return client


def test_a_purge_of_the_chosen_shows_the_count_first_and_changes_nothing(three, props, admin):
    status, _, page = admin.post(ACT, {"action": "purge", "scope": "selected",
                                       "key": [key_of(props, "user1@example.org")]}, token_from=LOT)
    assert status == 200 and "Purge 1 of 3 message(s) from omero.mail.failed for good?" in page
    assert lot(props) == ["user0@example.org", "user1@example.org", "user2@example.org"]


def test_a_confirmed_purge_removes_the_chosen_only(three, props, admin):
    _, _, page = admin.post(ACT, {"action": "purge", "scope": "selected",
                                  "key": [key_of(props, "user1@example.org")]}, token_from=LOT)
    status, headers, _ = admin.post(ACT, confirmation(page), token_from=LOT)
    assert status == 302 and headers["Location"].endswith("?done=purged&count=1&gone=0")
    assert lot(props) == ["user0@example.org", "user2@example.org"]
    assert "Purged 1 message(s)." in admin.get(headers["Location"])[2]


def test_a_purge_by_filter_removes_what_the_filter_matched(props, admin):
    park(props, [outbox_mail(to) for to in ["alice@example.org", "bob@example.org", "alice@lab.example.org"]])
    _, _, page = admin.post(ACT, {"action": "purge", "scope": "filter", "recipient": "alice"}, token_from=LOT)
    assert "Purge 2 of 3 message(s)" in page
    assert admin.post(ACT, confirmation(page), token_from=LOT)[0] == 302
    assert lot(props) == ["bob@example.org"]


def test_a_confirmation_after_the_lot_changed_does_nothing_and_shows_the_new_count(props, admin):
    park(props, [outbox_mail("alice@example.org")])
    _, _, page = admin.post(ACT, {"action": "purge", "scope": "filter", "recipient": "alice"}, token_from=LOT)
    park(props, [outbox_mail("alice@lab.example.org")])
    status, _, page = admin.post(ACT, confirmation(page), token_from=LOT)
    assert status == 200 and 'id="changed"' in page and "Purge 2 of 2 message(s)" in page
    assert len(lot(props)) == 2


def test_a_confirmed_replay_puts_the_chosen_back_in_the_outbox(three, props, admin):
    _, _, page = admin.post(ACT, {"action": "replay", "scope": "selected",
                                  "key": [key_of(props, "user0@example.org"), key_of(props, "user2@example.org")]},
                            token_from=LOT)
    assert "Replay 2 of 3 message(s) from omero.mail.failed to the outbox?" in page and outbox(props) == 0
    assert admin.post(ACT, confirmation(page), token_from=LOT)[0] == 302
    assert lot(props) == ["user1@example.org"] and outbox(props) == 2


def untrusted(props) -> str:
    """A forged email a delivery stage refused and parked: its publisher was not the rules stage."""
    park(props, [outbox_mail("victim@example.org")], **{outcomes.UNTRUSTED: "guest"})
    return key_of(props, "victim@example.org")


def test_an_untrusted_message_is_shown_as_such_and_offers_no_replay(props, admin):
    key = untrusted(props)
    _, _, page = admin.get(LOT)
    assert '<span class="verdict" title="published by broker user &#x27;guest&#x27;' in page
    _, _, page = admin.get(f"{LOT}{key}/")
    assert 'id="verdict"' in page and 'id="purge"' in page and 'id="replay"' not in page


@pytest.mark.parametrize("step", ["count", "confirm"])
def test_a_hand_made_post_replaying_an_untrusted_message_is_refused(props, admin, step):
    key = untrusted(props)
    status, _, page = admin.post(ACT, {"action": "replay", "scope": "selected", "key": [key], "step": step,
                                       "expected": "0" * 64}, token_from=LOT)
    assert status == 409 and "is untrusted" in page and "nothing done" in page
    assert lot(props) == ["victim@example.org"] and outbox(props) == 0


def test_a_replay_by_filter_leaves_an_untrusted_message_and_says_so(three, props, admin):
    key = untrusted(props)
    [victim] = [p.message_id.strip("<>") for p in parked(props["omero.mail.broker.url"]) if p.key == key]
    _, _, page = admin.post(ACT, {"action": "replay", "scope": "filter"}, token_from=LOT)
    assert "Replay 3 of 4 message(s)" in page
    [left] = re.findall(r'<tr class="untrusted"><td>([^<]+)</td><td><span class="verdict">untrusted</span>', page)
    assert left == victim
    assert admin.post(ACT, confirmation(page), token_from=LOT)[0] == 302
    assert lot(props) == ["victim@example.org"] and outbox(props) == 3


def test_an_untrusted_message_is_purged_like_any_other(props, admin):
    key = untrusted(props)
    _, _, page = admin.post(ACT, {"action": "purge", "scope": "selected", "key": [key]}, token_from=LOT)
    assert admin.post(ACT, confirmation(page), token_from=LOT)[0] == 302
    assert lot(props) == []


@pytest.mark.parametrize("step", ["count", "confirm"])
def test_nobody_logged_in_can_replay_or_purge_nothing(three, props, web_app, step):
    client = Client(web_app())
    for action in ("replay", "purge"):
        status, _, _ = client.post(ACT, {"action": action, "scope": "filter", "step": step}, token_from="login/")
        assert status == 403
    assert len(lot(props)) == 3 and outbox(props) == 0


def test_a_user_who_is_not_an_admin_can_replay_or_purge_nothing(three, props, web_app):
    client = Client(web_app())
    assert client.login(name="carol")[0] == 403
    for action in ("replay", "purge"):
        assert client.post(ACT, {"action": action, "scope": "filter"}, token_from="login/")[0] == 403
    assert client.get(LOT)[0] == 302
    assert len(lot(props)) == 3 and outbox(props) == 0


def test_a_post_choosing_nothing_is_refused_and_does_nothing(three, props, admin):
    status, _, page = admin.post(ACT, {"action": "purge", "scope": "selected"}, token_from=LOT)
    assert status == 400 and "Nothing was chosen" in page
    assert len(lot(props)) == 3


def test_a_chosen_message_gone_meanwhile_is_said_and_nothing_is_done(three, props, admin):
    key = key_of(props, "user1@example.org")
    _, _, page = admin.post(ACT, {"action": "purge", "scope": "selected", "key": [key]}, token_from=LOT)
    admin.post(ACT, confirmation(page), token_from=LOT)
    status, _, page = admin.post(ACT, {"action": "purge", "scope": "selected", "key": [key]}, token_from=LOT)
    assert status == 409 and "no longer in omero.mail.failed" in page


def test_paging_over_250_parked_messages_shows_each_slice_in_order(props, admin):
    park(props, [outbox_mail(f"user{n:03}@example.org") for n in range(250)])
    for number, first in ((1, 0), (3, 100), (5, 200)):
        status, _, page = admin.get(f"{LOT}?page={number}")
        shown = re.findall(r"<td>user(\d{3})@example.org</td>", page)
        assert status == 200 and [int(n) for n in shown] == list(range(first, first + 50))
        assert f"Messages {first + 1}–{first + 50} of 250, page {number} of 5" in page


def test_paging_follows_the_filter(props, admin):
    park(props, [outbox_mail(f"{'alice' if n % 2 else 'bob'}{n:03}@example.org") for n in range(120)])
    _, _, page = admin.get(f"{LOT}?recipient=alice&page=2")
    shown = re.findall(r"<td>alice(\d{3})@example.org</td>", page)
    assert [int(n) for n in shown] == list(range(101, 120, 2))
    assert "60 of 120 message(s) match" in page and 'href="?recipient=alice&amp;page=1"' in page


def test_a_bad_since_says_why_and_lists_nothing(three, admin):
    status, _, page = admin.get(f"{LOT}?since=yesterday")
    assert status == 400 and "not a date or an age: &#x27;yesterday&#x27;" in page


def test_an_invalid_event_opens_as_its_json(props, admin, publish, make_service):
    from .conftest import wait_for

    make_service(stages=("rules",))
    publish("x", raw=json.dumps({"id": str(uuid.uuid4()), "type": "login.failed",
                                 "occurred_at": "2026-11-23T10:00:00+00:00", "data": {}}).encode(),
            routing_key="login.failed")
    wait_for(lambda: parked(props["omero.mail.broker.url"], topo.INVALID_QUEUE), what="the event parked")
    [event] = parked(props["omero.mail.broker.url"], topo.INVALID_QUEUE)
    status, _, page = admin.get(f"parking/invalid/{event.key}/")
    assert status == 200 and "&quot;type&quot;: &quot;login.failed&quot;" in page and 'id="source"' not in page


def test_a_message_no_longer_parked_is_not_found(admin):
    assert admin.get(f"{LOT}{'0' * 64}/")[0] == 404
