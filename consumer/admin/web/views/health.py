"""The Health page: the queues, the stages, the retry tiers, the bridge's lag, and a chart.

What it shows is ``consumer/admin/health.py``'s, drawn by ``chart.py``; this module reads
RabbitMQ for it, keeps what it read for a few seconds, and serves it two ways: the page
(``health/``, whose script ``static/omero_mail/health.js`` fetches ``health/?part=1``
every few seconds and swaps it in), and the same picture as JSON (``health.json``) for a
script or a monitor.

RabbitMQ's counts are read at most every :data:`COUNTS_FOR` seconds however many pages
poll. The activity reports at most every few seconds (the stages' interval, at least
:data:`REPORTS_AT_LEAST`, at most :data:`REPORTS_AT_MOST`): a read takes every report off
the queue and gives it back (0.4 s for the 1,440 reports of six hours of four processes,
measured on this machine), and a read that comes while another reader holds them finds
fewer, so each read is merged with those before. One reader at a time; a page asking
meanwhile gets what was read last.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

from django.http import HttpRequest, JsonResponse
from django.shortcuts import render

from events import topology as topo
from events.broker import BrokerError, queue_counts

from ... import health as model
from ...health import Health
from .. import site
from ..access import admin_of, admin_page
from ..chart import chart
from ..pages import page as render_page

#: The chart's spans, in hours, and the one shown first.
HOURS = (1, 3, 6)
DEFAULT_HOURS = 3
#: Seconds between two refreshes of an open page (its script reads it from the page).
REFRESH_SECONDS = 5
COUNTS_FOR = 2.0
REPORTS_AT_LEAST, REPORTS_AT_MOST = 5.0, 20.0

T = TypeVar("T")


class Kept(Generic[T]):
    """The last value read for a key, reused for ``max_age`` seconds; one read at a time, and
    while one runs the others get the last value (or wait for the first one)."""

    def __init__(self) -> None:
        self._reading = threading.Lock()
        self._key: str | None = None
        self._value: T | None = None
        self._at = float("-inf")

    def get(self, key: str, read: Callable[[T | None], T], max_age: float) -> T:
        """The value for ``key``; ``read`` is given the last one read for it (None if none)."""
        value = self._value
        if self._key == key and value is not None:
            if time.monotonic() - self._at < max_age or not self._reading.acquire(blocking=False):
                return value
        else:
            self._reading.acquire()
        try:
            if self._key != key or self._value is None or time.monotonic() - self._at >= max_age:
                before = self._value if self._key == key else None
                self._value, self._key, self._at = read(before), key, time.monotonic()
            assert self._value is not None
            return self._value
        finally:
            self._reading.release()


_counts: Kept[tuple[dict | None, str | None]] = Kept()
_reports: Kept[tuple[list, str | None]] = Kept()
_bridge: Kept[dict] = Kept()


def _read_counts(url: str) -> tuple[dict | None, str | None]:
    try:
        return queue_counts(url, model.queue_names(_topology())), None
    except BrokerError as exc:
        return None, f"RabbitMQ could not be asked for the queues' counts: {exc}"


def _read_reports(url: str, before: tuple[list, str | None] | None) -> tuple[list, str | None]:
    kept = before[0] if before else []
    since = time.time() - 60 * model.MOST_MINUTES
    try:
        return model.merged(kept, model.read_reports(url), since), None
    except BrokerError as exc:
        return model.merged(kept, [], since), f"the activity reports in {topo.ACTIVITY_QUEUE} could not be read: {exc}"


def _topology() -> topo.Topology:
    from ....access.definitions import topology_for

    return topology_for(site.properties())


def look(url: str, hours: int) -> Health:
    interval = site.read().monitoring.activity_interval
    counts, counts_error = _counts.get(url, lambda _before: _read_counts(url), COUNTS_FOR)
    reports, reports_error = _reports.get(url, lambda before: _read_reports(url, before),
                                          min(REPORTS_AT_MOST, max(REPORTS_AT_LEAST, interval)))
    errors = [e for e in (counts_error, reports_error) if e]
    return model.health(time.time(), model.queue_names(_topology()), counts, reports, chart_minutes=60 * hours,
                        errors=errors)


def bridge() -> dict:
    """The bridge's own figures when ``omero.mail.bridge.metrics.port`` is set: ``{}`` when it is not."""
    settings = site.read()
    port = settings.bridge.metrics_port
    if not port:
        return {}

    def read() -> dict:
        try:
            return {"port": port, **model.read_bridge_metrics(settings.monitoring.host, port)}
        except (OSError, ValueError) as exc:
            return {"port": port, "error": f"its /metrics on port {port} did not answer ({exc})"}

    return _bridge.get("bridge", lambda _before: read(), COUNTS_FOR)


def _hours(request: HttpRequest) -> int:
    try:
        hours = int(request.GET.get("hours", DEFAULT_HOURS))
    except ValueError:
        return DEFAULT_HOURS
    return hours if hours in HOURS else DEFAULT_HOURS


def context(health: Health, hours: int, own: dict) -> dict:
    settings = site.read()
    return {
        "health": health,
        "chart": chart(health.minutes),
        "hours": hours,
        "spans": HOURS,
        "refresh": REFRESH_SECONDS,
        "read_at": _seconds(health.at),
        "zone": time.strftime("%Z", time.localtime(health.at)),
        "active_rules": model.active_rules(health.processes),
        "processes": [{"process": p, "last": _seconds(p.report.at), "silent": model.minutes(p.silent_for)}
                      for p in health.processes],
        "retry_tiers": [q for q in health.queues if q.kind == "retry"],
        "retry_labels": [topo.duration_label(ms) for ms in settings.queues.retry_delays_ms],
        "bridge_newest": health.bridge and _seconds(health.bridge.newest.last_occurred_at),
        "bridge_own": own,
        "interval": settings.monitoring.activity_interval,
    }


def _seconds(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


@admin_page
def page(request: HttpRequest):
    hours = _hours(request)
    ctx = context(look(admin_of(request).broker_url, hours), hours, bridge())
    if request.GET.get("part"):
        return render(request, "omero_mail/health_part.html", ctx)
    return render_page(request, "omero_mail/health.html", ctx, section="Health")


@admin_page
def data(request: HttpRequest):
    health = look(admin_of(request).broker_url, _hours(request))
    return JsonResponse({**health.to_json(), "active_rules": model.active_rules(health.processes),
                         "bridge_metrics": bridge()})
