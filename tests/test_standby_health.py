"""A standby rules stage is healthy while events wait for the active one."""

from __future__ import annotations

from types import SimpleNamespace

from consumer.stages.health import Health
from consumer.stages.service import StandbyAware
from events import topology as topo


class Depths:
    def get(self):
        return {topo.EVENTS_QUEUE: 50, topo.OUTBOX_QUEUE: 0}


def rules_stage(receiving: set[str]):
    consumer = SimpleNamespace(receiving=receiving, connected=SimpleNamespace(is_set=lambda: True),
                               last_message_at=None, reconnects=0)
    return Health(consumer, StandbyAware(Depths(), consumer), [topo.EVENTS_QUEUE], stuck_after=0)


def test_a_standby_is_not_stuck_on_events_that_wait_for_the_active_stage():
    verdict, _ = rules_stage(set()).check()
    assert verdict.healthy


def test_the_active_stage_is_stuck_when_events_wait_and_none_reach_it():
    verdict, _ = rules_stage({topo.EVENTS_QUEUE}).check()
    assert not verdict.healthy
