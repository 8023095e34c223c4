"""The duplicate filter (consumer/memory/dedupe.py) and the flood guard's recorded changes: pure, with a clock."""

from __future__ import annotations

from consumer.memory.dedupe import DuplicateFilter
from senders.flood import FloodGuard, FloodRule, change, digest_mails

from .test_flood_guard import Clock, login_failed, mails_for


def test_an_id_planned_within_the_window_is_known_with_its_time():
    clock = Clock()
    ids = DuplicateFilter(window=60, limit=10, clock=clock)
    ids.add("a")
    clock.now += 59
    assert ids.planned_at("a") == 1000.0


def test_an_id_is_forgotten_once_the_window_has_passed():
    clock = Clock()
    ids = DuplicateFilter(window=60, limit=10, clock=clock)
    ids.add("a")
    clock.now += 61
    assert ids.planned_at("a") is None and len(ids) == 0


def test_past_the_limit_the_oldest_ids_are_forgotten_first():
    ids = DuplicateFilter(window=60, limit=2, clock=Clock())
    for name in "abc":
        ids.add(name)
    assert ids.planned_at("a") is None and ids.planned_at("b") and ids.planned_at("c")


def test_an_older_record_from_another_stage_is_expired_in_its_turn():
    clock = Clock()
    ids = DuplicateFilter(window=60, limit=10, clock=clock)
    ids.add("new", at=1000.0)
    ids.add("old", at=950.0)
    clock.now = 1015.0
    assert ids.planned_at("old") is None and ids.planned_at("new") == 1000.0


def test_a_record_older_than_the_window_is_not_kept():
    ids = DuplicateFilter(window=60, limit=10, clock=Clock())
    ids.add("a", at=900.0)
    assert len(ids) == 0


def guards(clock):
    rules = {"login.failed": FloodRule(("user",), window=600, threshold=3)}
    return FloodGuard(rules, clock), FloodGuard(rules, clock)


def replay(events, active, standby):
    """Admit on the active guard and apply each recorded change to the standby."""
    for event in events:
        mails = mails_for(event, "root@example.org")
        folded = not active.admit(event, mails)
        standby.restore(change(active.window_of(event), event, folded))


def test_a_guard_restored_from_the_changes_carries_on_the_count():
    clock = Clock()
    active, standby = guards(clock)
    replay([login_failed(addr=f"192.0.2.{n}") for n in range(10)], active, standby)
    assert standby.admit(login_failed(), mails_for(login_failed())) is False
    [window] = standby.drain()
    assert (window.mailed, window.folded) == (3, 8)
    assert digest_mails(window)[0].to == "root@example.org"


def test_a_digest_sent_by_another_guard_is_forgotten():
    clock = Clock()
    active, standby = guards(clock)
    replay([login_failed() for _ in range(5)], active, standby)
    [window] = active.drain()
    standby.forget(window.event_type, window.key, window.opened)
    assert standby.drain() == []


def test_changes_to_a_window_long_over_are_dropped():
    clock = Clock()
    active, standby = guards(clock)
    events = [login_failed() for _ in range(5)]
    recorded = []
    for event in events:
        folded = not active.admit(event, mails_for(event))
        recorded.append(change(active.window_of(event), event, folded))
    clock.now += 1201
    for data in recorded:
        standby.restore(data)
    assert standby.drain() == []
