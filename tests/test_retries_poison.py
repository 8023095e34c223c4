"""Poison messages: counted per message id, parked after the limit, never looping forever (pure logic)."""

from __future__ import annotations

from consumer.outcomes import Crashes


def test_a_message_is_declared_poison_on_its_limitth_crash():
    crashes = Crashes(limit=3)
    assert [crashes.record("<a@x>", b"") for _ in range(3)] == [False, False, True]


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
