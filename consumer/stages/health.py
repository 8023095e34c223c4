"""``/healthz`` and ``/metrics`` on ``omero.mail.metrics.port``, for probes and Prometheus.

A consumer is unhealthy when its broker connection is down, or when it is stuck:
messages wait in the queues it consumes but none has reached it for
``omero.mail.health.stuck-after``. A supervisor (systemd's watchdog script, a
Kubernetes liveness probe) restarts it; the broker then hands its unacked messages to
another consumer, so nothing is lost. The HTTP side is ``events/monitoring.py``, which
the bridge shares.
"""

from __future__ import annotations

import time
from typing import Protocol

from events.monitoring import MonitoringServer, Verdict, application

__all__ = ["Health", "MonitoringServer", "Verdict", "application", "verdict"]


def verdict(connected: bool, waiting: int | None, idle_seconds: float, stuck_after: float) -> Verdict:
    """Healthy unless disconnected, or messages wait while nothing came for ``stuck_after``."""
    if not connected:
        return Verdict(False, "not connected to RabbitMQ")
    if waiting and idle_seconds >= stuck_after:
        return Verdict(False, f"stuck: {waiting} message(s) waiting, none consumed for {idle_seconds:.0f}s")
    return Verdict(True, "ok")


class Depths(Protocol):
    """Messages ready per queue (:class:`consumer.stages.metrics.QueueDepths`), or None while unknown."""

    def get(self) -> dict[str, int] | None: ...


class Health:
    """The verdict for one running consumer (reads its ``connected`` and ``last_message_at``)."""

    def __init__(self, consumer, depths: Depths | None, queues: list[str], stuck_after: float):
        self.consumer = consumer
        self.depths = depths
        self.queues = list(queues)
        self.stuck_after = stuck_after
        self.started_at = time.monotonic()

    def check(self) -> tuple[Verdict, dict]:
        connected = self.consumer.connected.is_set()
        depths = self.depths.get() if self.depths else None
        waiting = sum(depths.get(q, 0) for q in self.queues) if depths else None
        last = self.consumer.last_message_at or self.started_at
        idle = time.monotonic() - last
        result = verdict(connected, waiting, idle, self.stuck_after)
        return result, {"status": "ok" if result.healthy else "unhealthy", "reason": result.reason,
                        "connected": connected, "waiting": waiting, "idle_seconds": round(idle, 1),
                        "reconnects": self.consumer.reconnects}
