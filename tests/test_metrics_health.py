"""When a consumer calls itself unhealthy (pure rules, no broker)."""

from __future__ import annotations

from consumer.stages.health import verdict
from consumer.stages.metrics import QueueDepths, seconds_since


def test_a_disconnected_consumer_is_unhealthy():
    assert not verdict(False, 0, 0.0, 300).healthy


def test_a_connected_idle_consumer_with_empty_queues_is_healthy():
    assert verdict(True, 0, 10_000.0, 300).healthy


def test_messages_waiting_with_nothing_consumed_for_too_long_is_stuck():
    result = verdict(True, 12, 301.0, 300)
    assert not result.healthy and result.reason.startswith("stuck: 12 message(s) waiting")


def test_messages_waiting_briefly_is_healthy():
    assert verdict(True, 12, 5.0, 300).healthy


def test_unknown_queue_depths_do_not_make_a_connected_consumer_stuck():
    assert verdict(True, None, 10_000.0, 300).healthy


def test_latency_is_measured_from_the_events_occurred_at():
    assert seconds_since("2026-11-23T10:00:00+00:00", now=1_795_428_000.25) == 0.25


def test_an_unreadable_occurred_at_gives_no_latency():
    assert seconds_since("yesterday") is None


def test_queue_depths_are_read_once_per_max_age():
    reads = []
    depths = QueueDepths(lambda: reads.append(1) or {"q": len(reads)}, max_age=3600)
    assert depths.get() == {"q": 1} and depths.get() == {"q": 1}


def test_queue_depths_are_none_while_the_broker_cannot_be_asked():
    def fail():
        raise OSError("connection refused")

    assert QueueDepths(fail).get() is None
