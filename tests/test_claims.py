"""The rules stage's claims (consumer/state.py): an event is planned once per publisher, and a
second copy never waits longer than its bound. Pure: no broker is read."""

from __future__ import annotations

import threading

from consumer.dedupe import DuplicateFilter
from consumer.state import WAITING, RulesState


def state() -> RulesState:
    return RulesState("amqp://unused", DuplicateFilter(window=60, limit=10), None, horizon=60,
                      read=lambda *args: 0)


def test_a_copy_of_an_event_being_planned_waits_and_is_told_when_it_was_planned():
    rules = state()
    told = []
    assert rules.claim(("bridge", "e1"), told.append, wait=5) is None
    assert rules.claim(("bridge", "e1"), told.append, wait=5) == WAITING
    rules.settled(("bridge", "e1"), True)
    assert told == [True]
    assert rules.claim(("bridge", "e1"), told.append, wait=5) is not None


def test_the_same_id_from_another_publisher_is_another_event():
    rules = state()
    assert rules.claim(("bridge", "e1"), print, wait=5) is None
    rules.settled(("bridge", "e1"), True)
    assert rules.claim(("web", "e1"), print, wait=5) is None


def test_a_copy_gives_up_waiting_after_its_bound_and_is_told_once():
    rules = state()
    told: list = []
    gave_up = threading.Event()
    rules.claim(("bridge", "e1"), print, wait=5)
    rules.claim(("bridge", "e1"), lambda planned: (told.append(planned), gave_up.set()), wait=0.05)
    assert gave_up.wait(5)
    rules.settled(("bridge", "e1"), True)
    assert told == [None]


def test_a_record_written_before_records_named_their_publisher_is_still_applied():
    rules = state()
    rules.apply({"w": "another", "t": 10**10, "id": "e1"})
    assert rules.dedupe.planned_at(("", "e1")) is not None
