"""Prometheus metrics of one consumer process, fed by the stages' observers.

Each :class:`Metrics` has its own registry (several services may share a process, as in
the tests). Counters move when the stages report (``RulesStage.on_event``,
``DeliveryStage.on_outcome``, ``DeliveryStage.on_accepted``); queue depths and the SMTP
connection counts are read when Prometheus scrapes, so they cost nothing in between.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from senders.mail import Mail
from senders.plan import Plan

from .. import outcomes
from ..outbox import OCCURRED_AT

log = logging.getLogger(__name__)

#: Seconds from the event's ``occurred_at`` to the SMTP server's acceptance.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600)


def seconds_since(occurred_at: str, now: float | None = None) -> float | None:
    """Age of an ISO 8601 time stamp (the outbox's occurred-at header); None if unreadable."""
    if isinstance(occurred_at, bytes):
        occurred_at = occurred_at.decode("ascii", "replace")
    try:
        then = datetime.fromisoformat(str(occurred_at)).timestamp()
    except ValueError:
        return None
    return max(0.0, (time.time() if now is None else now) - then)


class QueueDepths:
    """Messages ready per queue, read from the broker at most every ``max_age`` seconds."""

    def __init__(self, read: Callable[[], Mapping[str, int]], max_age: float = 5.0):
        self._read = read
        self.max_age = max_age
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._depths: dict[str, int] | None = None

    def get(self) -> dict[str, int] | None:
        """The depths, or None while the broker cannot be asked."""
        with self._lock:
            if time.monotonic() - self._at >= self.max_age:
                self._at = time.monotonic()
                try:
                    self._depths = dict(self._read())
                except Exception as exc:  # noqa: BLE001 - a scrape must not fail with the broker
                    log.debug("cannot read queue depths: %s", exc)
                    self._depths = None
            return self._depths


class _ScrapeTime:
    """Collector for the values read at scrape time: queue depths, SMTP connection reuse."""

    def __init__(self, depths: QueueDepths | None, transports: list):
        self.depths = depths
        self.transports = transports

    def collect(self):
        depth = GaugeMetricFamily("omero_mail_queue_messages", "Messages ready in the queue", labels=["queue"])
        for queue, count in sorted(((self.depths and self.depths.get()) or {}).items()):
            depth.add_metric([queue], count)
        yield depth
        opened = CounterMetricFamily("omero_mail_smtp_connections_opened", "SMTP connections opened")
        opened.add_metric([], sum(getattr(t, "connections_opened", 0) for t in list(self.transports)))
        yield opened
        sent = CounterMetricFamily("omero_mail_smtp_messages", "Messages sent over those connections")
        sent.add_metric([], sum(getattr(t, "messages_sent", 0) for t in list(self.transports)))
        yield sent


class Metrics:
    def __init__(self, depths: QueueDepths | None = None):
        self.registry = CollectorRegistry()
        self.events = Counter("omero_mail_events_consumed", "Events consumed, by type ('invalid' for parked ones)",
                              ["type"], registry=self.registry)
        self.emails = Counter("omero_mail_emails", "Email outcomes (sent, retrying, failed, skipped) by sender",
                              ["outcome", "sender"], registry=self.registry)
        self.latency = Histogram("omero_mail_delivery_latency_seconds",
                                 "From the event's occurred_at to the SMTP server accepting the email",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.flood_unguarded = Counter("omero_mail_flood_unguarded",
                                       "Events mailed one by one because the flood guard held its most windows",
                                       ["type"], registry=self.registry)
        self.transports: list = []
        self.depths = depths
        self.registry.register(_ScrapeTime(depths, self.transports))

    # -- observers -------------------------------------------------------------------
    def on_event(self, kind: str, result: Plan | None) -> None:
        self.events.labels(kind).inc()
        if result is not None and (result.no_email or result.invalid):
            # The plan counts users without a usable address, not per sender: one label for all.
            self.emails.labels(outcomes.SKIPPED, ",".join(result.senders) or "none").inc(
                result.no_email + result.invalid)

    def on_outcome(self, outcome: str, mail: Mail | None, _detail: str) -> None:
        self.emails.labels(outcome, mail.sender if mail else "unknown").inc()

    def on_flood_unguarded(self, kind: str) -> None:
        self.flood_unguarded.labels(kind).inc()

    def on_accepted(self, headers: Mapping) -> None:
        age = seconds_since(headers.get(OCCURRED_AT, ""))
        if age is not None:
            self.latency.observe(age)

    def track_transport(self, transport):
        """Count this transport's connections and messages; returns it (wrap a factory)."""
        self.transports.append(transport)
        return transport
