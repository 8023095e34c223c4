"""What a replay or purge acts on, and what it leaves, as pure rules (consumer/admin/parking.py)."""

from __future__ import annotations

import json

import pytest

from consumer import outcomes

from consumer.admin import parking
from consumer.access.trust import Trust
from events.broker import Parked

CHECKED = Trust(checked=True, rules_user="rules", delivery_user="delivery")


def parked(message_id: str, user_id: str = "delivery", untrusted: str | None = None, **body) -> Parked:
    headers = {outcomes.REASON: "550", **({outcomes.UNTRUSTED: untrusted} if untrusted is not None else {})}
    return Parked(1, json.dumps({"to": "a@example.org", **body}).encode(), message_id, headers, "failed",
                  "application/json", user_id)


def event(message_id: str, kind: str, routing_key: str, untrusted: str | None = None) -> Parked:
    headers = {outcomes.ROUTING_KEY: routing_key, **({outcomes.UNTRUSTED: untrusted} if untrusted is not None else {})}
    return Parked(1, json.dumps({"id": message_id, "type": kind}).encode(), message_id, headers, "invalid",
                  "application/json", "rules")


def ids(entries) -> list[str]:
    return [item.id for item in entries]


def test_a_stages_verdict_stands_whatever_the_checks_are_now():
    assert parking.entry(parked("a1", untrusted="guest")).untrusted.startswith("published by broker user 'guest'")


def test_with_checks_on_a_copy_no_stage_published_is_untrusted():
    assert "not a stage" in parking.entry(parked("a1", user_id="guest"), CHECKED).untrusted
    assert parking.entry(parked("a1", user_id="delivery"), CHECKED).untrusted == ""
    assert parking.entry(parked("a1", user_id="guest")).untrusted == ""


def test_replaying_everything_leaves_an_untrusted_message_and_says_why():
    entries = [parking.entry(parked("a1")), parking.entry(parked("b2", untrusted="guest"))]
    choice = parking.choose(parking.FAILED, entries, replaying=True)
    assert ids(choice.acted) == ["a1"]
    [(left, why)] = choice.left
    assert left.id == "b2" and "--untrusted b2" in why


def test_an_untrusted_message_named_by_id_is_refused_for_replay_and_purged_like_any_other():
    entries = [parking.entry(parked("b2", untrusted="guest"))]
    with pytest.raises(parking.Refused, match="b2 is untrusted"):
        parking.choose(parking.FAILED, entries, ["b2"], replaying=True)
    assert ids(parking.choose(parking.FAILED, entries, ["b2"]).acted) == ["b2"]


def test_vouching_alone_replays_the_vouched_message_only():
    entries = [parking.entry(parked("a1")), parking.entry(parked("b2", untrusted="guest"))]
    choice = parking.choose(parking.FAILED, entries, replaying=True, vouched_ids=["b2"])
    assert ids(choice.acted) == ids(choice.vouched) == ["b2"] and choice.left == []


def test_vouching_takes_one_message_per_id():
    entries = [parking.entry(parked("b21", untrusted="guest")), parking.entry(parked("b22", untrusted="guest"))]
    with pytest.raises(parking.Refused, match="one message: give more of the id"):
        parking.choose(parking.FAILED, entries, replaying=True, vouched_ids=["b2"], all_matching=True)


def test_with_checks_on_invalid_replay_leaves_a_broadcast_for_its_admin_and_replays_a_login():
    entries = [parking.entry(event("e1", "admin.broadcast", "admin.broadcast"), CHECKED),
               parking.entry(event("e2", "login.failed", "login.failed"), CHECKED)]
    choice = parking.choose(parking.INVALID, entries, replaying=True, checked=True)
    assert ids(choice.acted) == ["e2"]
    [(left, why)] = choice.left
    assert left.id == "e1" and "omero-mail broadcast ... --id e1" in why


def test_a_vouched_event_goes_back_under_its_own_type():
    refused = event("e3", "login.failed", "web.error", untrusted="web")
    assert parking.replay_to_events(refused).routing_key == "login.failed"
    assert parking.replay_to_events(event("e4", "login.failed", "login.failed")).routing_key == "login.failed"
    assert outcomes.UNTRUSTED not in (parking.replay_to_events(refused).headers or {})


def test_a_filter_and_ids_both_apply():
    entries = [parking.entry(parked("a1", to="x@example.org")), parking.entry(parked("a2"))]
    choice = parking.choose(parking.FAILED, entries, ["a"], parking.Filter(recipient="x@"), all_matching=True)
    assert ids(choice.acted) == ["a1"]


def test_keys_name_exactly_the_messages_checked_on_a_page():
    entries = [parking.entry(parked("a1")), parking.entry(parked("a12")), parking.entry(parked("b2"))]
    choice = parking.choose(parking.FAILED, entries, keys=[entries[0].parked.key])
    assert ids(choice.acted) == ["a1"]


def test_a_key_naming_an_untrusted_message_is_refused_for_replay():
    entries = [parking.entry(parked("b2", untrusted="guest"))]
    with pytest.raises(parking.Refused, match="b2 is untrusted"):
        parking.choose(parking.FAILED, entries, keys=[entries[0].parked.key], replaying=True)


def test_a_key_no_longer_in_the_lot_is_refused_and_nothing_is_chosen():
    entries = [parking.entry(parked("a1"))]
    with pytest.raises(parking.Refused, match="1 of the chosen message.s. are no longer in omero.mail.failed"):
        parking.choose(parking.FAILED, entries, keys=[entries[0].parked.key, "0" * 64])
