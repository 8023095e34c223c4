"""events/broker/handoff.py: one wake-up per batch, order kept, and nothing handed to a loop
that stopped is lost: it is taken back and run, and while no loop is open nothing is queued."""

from __future__ import annotations

import threading

import pytest

from events.broker.handoff import Handoff


class Loop:
    """A stand-in for pika's IOLoop: callbacks are run when the test says, or never (stopped)."""

    def __init__(self) -> None:
        self.scheduled: list = []

    def add_callback_threadsafe(self, callback) -> None:
        self.scheduled.append(callback)

    def run(self) -> None:
        scheduled, self.scheduled = self.scheduled, []
        for callback in scheduled:
            callback()


def opened(loop: Loop) -> Handoff:
    handoff = Handoff()
    handoff.open(loop.add_callback_threadsafe)
    return handoff


def test_one_wakeup_per_batch_in_order():
    loop, ran = Loop(), []
    handoff = opened(loop)
    for number in range(5):
        assert handoff.submit(ran.append, number)
    assert len(loop.scheduled) == 1
    loop.run()
    assert ran == [0, 1, 2, 3, 4]
    handoff.submit(ran.append, 5)
    assert len(loop.scheduled) == 1
    loop.run()
    assert ran == [0, 1, 2, 3, 4, 5]


def test_nothing_is_queued_before_a_loop_opens():
    assert Handoff().submit(print, "never queued") is False


def test_what_a_stopped_loop_never_ran_is_taken_back_in_order():
    loop, ran = Loop(), []
    handoff = opened(loop)
    handoff.submit(ran.append, 1)
    handoff.submit(ran.append, 2)
    for fn, args in handoff.take():
        fn(*args)
    assert ran == [1, 2]
    loop.run()  # the drain it was given, were it ever run, runs nothing twice
    assert ran == [1, 2]


def test_after_take_nothing_is_queued_until_the_next_loop_opens():
    old, new, ran = Loop(), Loop(), []
    handoff = opened(old)
    handoff.take()
    assert handoff.submit(ran.append, "runs here") is False
    handoff.open(new.add_callback_threadsafe)
    assert handoff.submit(ran.append, "queued")
    new.run()
    assert ran == ["queued"] and old.scheduled == []


def test_a_batch_whose_wakeup_failed_is_taken_back():
    handoff, ran = Handoff(), []

    def stopping(_callback) -> None:
        raise RuntimeError("loop closing")

    handoff.open(stopping)
    assert handoff.submit(ran.append, 1)
    assert handoff.submit(ran.append, 2)
    assert [args for _fn, args in handoff.take()] == [(1,), (2,)]


def test_a_failing_callable_does_not_stop_the_rest():
    loop, ran = Loop(), []
    handoff = opened(loop)
    handoff.submit(lambda: 1 / 0)
    handoff.submit(ran.append, "after")
    with pytest.raises(ZeroDivisionError):
        loop.run()
    assert ran == ["after"]


def test_threads_lose_nothing_across_a_stop():
    """Four threads submit while the loop runs some batches and then stops: every call runs once,
    by the loop, by take(), or by its caller once no loop is open."""
    loop, ran = Loop(), []
    handoff = opened(loop)
    lock = threading.Lock()

    def add(value: int) -> None:
        with lock:
            ran.append(value)

    def submit_many(start: int) -> None:
        for number in range(start, start + 1000):
            if not handoff.submit(add, number):
                add(number)

    threads = [threading.Thread(target=submit_many, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    loop.run()
    for fn, args in handoff.take():
        fn(*args)
    for thread in threads:
        thread.join()
    loop.run()
    assert sorted(ran) == list(range(4000))
