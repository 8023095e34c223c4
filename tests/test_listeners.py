"""consumer/stages/listeners.py: outcomes nobody takes stop, one probe a second, all again once one is taken."""

from __future__ import annotations

from consumer.stages.listeners import Listeners
from events.broker import LOST, UNROUTABLE


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def returned(listeners: Listeners, outcome: str = "sent") -> None:
    listeners.heard(outcome, UNROUTABLE + "no queue bound for omero.mail.results/e1.sent")


def test_outcomes_are_published_until_one_comes_back_unroutable():
    listeners = Listeners(clock=Clock())
    assert all(listeners.wanted("sent") for _ in range(3))
    returned(listeners)
    assert not listeners.wanted("sent")


def test_after_a_return_one_outcome_a_second_is_published_as_a_probe():
    clock = Clock()
    listeners = Listeners(probe_seconds=1.0, clock=clock)
    returned(listeners)
    clock.now += 0.5
    assert not listeners.wanted("sent")
    clock.now += 0.6
    assert listeners.wanted("sent")
    assert not listeners.wanted("sent")  # that one was the probe


def test_a_probe_a_queue_took_brings_every_outcome_back():
    clock = Clock()
    listeners = Listeners(clock=clock)
    returned(listeners)
    clock.now += 2
    assert listeners.wanted("sent")
    listeners.heard("sent", None)
    assert all(listeners.wanted("sent") for _ in range(3))


def test_a_nack_or_a_lost_connection_teaches_nothing():
    listeners = Listeners(clock=Clock())
    listeners.heard("sent", "nacked by the broker")
    listeners.heard("sent", LOST + "connection closed")
    assert listeners.wanted("sent")


def test_each_outcome_is_learnt_apart():
    listeners = Listeners(clock=Clock())
    returned(listeners, "planned")
    assert not listeners.wanted("planned")
    assert listeners.wanted("sent")
