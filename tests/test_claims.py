"""The rules stage's claims (consumer/memory/state.py): an event is planned once per publisher, and a
second copy never waits longer than its bound. Pure: no broker is read."""

from __future__ import annotations

import threading

from consumer.memory.dedupe import DuplicateFilter
from consumer.memory.state import WAITING, RulesState, event_key


BRIDGE, WEB = event_key("e1", "bridge"), event_key("e1", "web")


def state() -> RulesState:
    return RulesState("amqp://unused", DuplicateFilter(window=60, limit=10), None, horizon=60,
                      read=lambda *args: 0)


def test_a_copy_of_an_event_being_planned_waits_and_is_told_when_it_was_planned():
    rules = state()
    told = []
    assert rules.claim(BRIDGE, told.append, wait=5) is None
    assert rules.claim(BRIDGE, told.append, wait=5) == WAITING
    rules.settled(BRIDGE, True)
    assert told == [True]
    assert rules.claim(BRIDGE, told.append, wait=5) is not None


def test_the_same_id_from_another_publisher_is_another_event():
    rules = state()
    assert rules.claim(BRIDGE, print, wait=5) is None
    rules.settled(BRIDGE, True)
    assert rules.claim(WEB, print, wait=5) is None


def test_a_copy_gives_up_waiting_after_its_bound_and_is_told_once():
    rules = state()
    told: list = []
    gave_up = threading.Event()
    rules.claim(BRIDGE, print, wait=5)
    rules.claim(BRIDGE, lambda planned: (told.append(planned), gave_up.set()), wait=0.05)
    assert gave_up.wait(5)
    rules.settled(BRIDGE, True)
    assert told == [None]


def test_copies_that_gave_up_do_not_pile_up_on_a_claim_still_held():
    rules = state()
    rules.claim(BRIDGE, print, wait=5)
    gave_up = threading.Semaphore(0)
    for _ in range(20):
        rules.claim(BRIDGE, lambda planned: gave_up.release(), wait=0.01)
    for _ in range(20):
        assert gave_up.acquire(timeout=5)
    assert rules._claims[BRIDGE] == []


def test_a_record_written_before_records_named_their_publisher_folds_a_copy_from_anyone():
    rules = state()
    rules.apply({"w": "another", "t": 10**10, "id": "e1"})
    assert rules.claim(BRIDGE, print, wait=5) is not None


def test_an_event_published_without_a_user_id_does_not_fold_a_publishers_event():
    rules = state()
    nobody = event_key("e1", None)
    assert rules.claim(nobody, print, wait=5) is None
    rules.settled(nobody, True)
    assert rules.claim(BRIDGE, print, wait=5) is None
