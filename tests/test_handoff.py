"""events/broker/handoff.py: one wake-up per batch, order kept, a replaced loop's batch dropped."""

from __future__ import annotations

import threading

import pytest

from events.broker.handoff import Handoff


class Loop:
    def __init__(self) -> None:
        self.scheduled: list = []

    def add_callback_threadsafe(self, callback) -> None:
        self.scheduled.append(callback)

    def run(self) -> None:
        scheduled, self.scheduled = self.scheduled, []
        for callback in scheduled:
            callback()


def test_one_wakeup_per_batch_in_order():
    loop, handoff, ran = Loop(), Handoff(), []
    for number in range(5):
        handoff.submit(loop.add_callback_threadsafe, ran.append, number)
    assert len(loop.scheduled) == 1
    loop.run()
    assert ran == [0, 1, 2, 3, 4]
    handoff.submit(loop.add_callback_threadsafe, ran.append, 5)
    assert len(loop.scheduled) == 1
    loop.run()
    assert ran == [0, 1, 2, 3, 4, 5]


def test_a_new_loop_gets_its_own_batch():
    old, new, handoff, ran = Loop(), Loop(), Handoff(), []
    handoff.submit(old.add_callback_threadsafe, ran.append, "lost")
    handoff.submit(new.add_callback_threadsafe, ran.append, "kept")
    new.run()
    assert ran == ["kept"]


def test_a_failing_schedule_does_not_block_later_ones():
    handoff, loop, ran = Handoff(), Loop(), []

    def closed(_callback) -> None:
        raise RuntimeError("loop closed")

    with pytest.raises(RuntimeError):
        handoff.submit(closed, ran.append, 1)
    handoff.submit(loop.add_callback_threadsafe, ran.append, 2)
    loop.run()
    assert ran == [2]


def test_a_failing_callable_does_not_stop_the_rest():
    loop, handoff, ran = Loop(), Handoff(), []
    handoff.submit(loop.add_callback_threadsafe, lambda: 1 / 0)
    handoff.submit(loop.add_callback_threadsafe, ran.append, "after")
    with pytest.raises(ZeroDivisionError):
        loop.run()
    assert ran == ["after"]


def test_threads_lose_nothing():
    loop, handoff, ran = Loop(), Handoff(), []
    lock = threading.Lock()

    def add(value: int) -> None:
        with lock:
            ran.append(value)

    def submit_many(start: int) -> None:
        for number in range(start, start + 1000):
            handoff.submit(loop.add_callback_threadsafe, add, number)

    threads = [threading.Thread(target=submit_many, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loop.run()
    assert sorted(ran) == list(range(4000))
