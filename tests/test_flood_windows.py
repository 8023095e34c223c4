"""How many windows the flood guard holds (senders/flood.py): swept on time, and bounded.

A web server answering 404 to a scan makes one key per path it was asked for: windows that
end with nothing folded leave on time, and past the most windows an event of a new key is
mailed as OMERO would mail it, never dropped.
"""

from __future__ import annotations

import logging
import tracemalloc

from consumer.memory.flood import FloodControl
from consumer.stages.metrics import Metrics
from events.schemas import new_event
from senders.flood import MOST_WINDOWS, FloodGuard, FloodRule

from .test_flood_guard import Clock, login_failed, mails_for
from .test_flood_log import KeptDigests, plan_for

RULES = {"login.failed": FloodRule(("user",), window=600, threshold=3),
         "web.error": FloodRule(("status", "path", "exception"), window=60, threshold=3)}
#: Any mail will do: the guard only counts them.
MAILS = mails_for(login_failed())


def not_found(path: str):
    return new_event("web.error", {"status": 404, "method": "GET", "path": path, "exception": ""})


def test_a_window_that_ended_with_nothing_folded_leaves_at_the_next_event():
    clock = Clock()
    guard = FloodGuard(RULES, clock)
    guard.admit(login_failed("root"), MAILS)
    clock.now += 601
    guard.admit(login_failed("alice"), MAILS)
    assert len(guard) == 1


def test_windows_of_distinct_keys_are_swept_on_time_though_none_folds():
    clock = Clock()
    guard = FloodGuard(RULES, clock)
    held = []
    for number in range(6000):  # ten new paths a second for ten minutes; a window lasts a minute
        guard.admit(not_found(f"/missing/{number}"), MAILS)
        clock.now += 0.1
        held.append(len(guard))
    assert max(held) <= 620


def test_past_the_most_windows_an_event_of_a_new_key_is_mailed_not_folded():
    guard = FloodGuard(RULES, Clock(), most=3)
    for user in ("a", "b", "c"):
        guard.admit(login_failed(user), MAILS)
    assert [guard.admit(login_failed("d"), MAILS) for _ in range(5)] == [True] * 5
    assert len(guard) == 3 and guard.unguarded == 5


def test_a_key_with_a_window_is_still_folded_when_the_guard_is_full():
    guard = FloodGuard(RULES, Clock(), most=1)
    assert [guard.admit(login_failed("root"), MAILS) for _ in range(5)] == [True] * 3 + [False] * 2
    assert guard.admit(login_failed("alice"), MAILS) is True and guard.unguarded == 1


def test_a_full_guard_takes_new_keys_again_once_windows_have_ended():
    clock = Clock()
    guard = FloodGuard(RULES, clock, most=2)
    for user in ("a", "b", "c"):
        guard.admit(login_failed(user), MAILS)
    clock.now += 601
    for _ in range(4):
        guard.admit(login_failed("c"), MAILS)
    assert guard.unguarded == 1 and guard.folded() == 1


def test_windows_owing_a_digest_stay_when_the_guard_is_full():
    clock = Clock()
    guard = FloodGuard(RULES, clock, most=1)
    for _ in range(4):
        guard.admit(login_failed("root"), MAILS)
    clock.now += 601
    guard.admit(login_failed("alice"), MAILS)
    assert [w.folded for w in guard.due()] == [1]


def test_the_guard_s_memory_stays_bounded_however_many_distinct_keys_come():
    guard = FloodGuard(RULES, Clock())
    events = [not_found(f"/missing/{number}") for number in range(2 * MOST_WINDOWS)]
    tracemalloc.start()
    try:
        for event in events[:MOST_WINDOWS]:
            guard.admit(event, MAILS)
        full, _peak = tracemalloc.get_traced_memory()
        for event in events[MOST_WINDOWS:]:
            guard.admit(event, MAILS)
        after, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(guard) == MOST_WINDOWS and guard.unguarded == MOST_WINDOWS
    assert after - full < 256 * 1024


def test_a_full_guard_warns_once_and_counts_each_event_it_mails_plainly(caplog):
    counted: list[str] = []
    control = FloodControl(FloodGuard(RULES, most=1), publisher=KeptDigests, outbox_message=lambda mail: mail)
    control.on_unguarded = counted.append
    events = [login_failed(user) for user in ("root", "alice", "bob", "carol")]
    with caplog.at_level(logging.WARNING, logger="consumer.memory.flood"):
        folded = [control.fold(event, plan_for(event)) for event in events]
    control.close()
    assert folded == [False] * 4 and counted == ["login.failed"] * 3
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "most windows (1)" in warning and "mailed one by one" in warning


def test_events_mailed_plainly_by_a_full_guard_are_a_metric():
    metrics = Metrics()
    metrics.on_flood_unguarded("web.error")
    metrics.on_flood_unguarded("web.error")
    assert metrics.registry.get_sample_value("omero_mail_flood_unguarded_total", {"type": "web.error"}) == 2
