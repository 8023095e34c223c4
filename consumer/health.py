"""``/healthz`` and ``/metrics`` on ``omero.mail.metrics.port``, for probes and Prometheus.

A consumer is unhealthy when its broker connection is down, or when it is stuck:
messages wait in the queues it consumes but none has reached it for
``omero.mail.health.stuck-after``. A supervisor (systemd's watchdog script, a
Kubernetes liveness probe) restarts it; the broker then hands its unacked messages to
another consumer, so nothing is lost.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from events.config import ConfigError
from .metrics import Metrics, QueueDepths


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def verdict(connected: bool, waiting: int | None, idle_seconds: float, stuck_after: float) -> Verdict:
    """Healthy unless disconnected, or messages wait while nothing came for ``stuck_after``."""
    if not connected:
        return Verdict(False, "not connected to RabbitMQ")
    if waiting and idle_seconds >= stuck_after:
        return Verdict(False, f"stuck: {waiting} message(s) waiting, none consumed for {idle_seconds:.0f}s")
    return Verdict(True, "ok")


class Health:
    """The verdict for one running consumer (reads its ``connected`` and ``last_message_at``)."""

    def __init__(self, consumer, depths: QueueDepths | None, queues: list[str], stuck_after: float):
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


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        """Scrapes every few seconds would drown the log."""


def application(metrics: Metrics, health: Callable[[], tuple[Verdict, dict]]):
    prometheus = make_wsgi_app(metrics.registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            result, body = health()
            start_response("200 OK" if result.healthy else "503 Service Unavailable",
                           [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return prometheus(environ, start_response)

    return app


class MonitoringServer:
    """The HTTP server in a daemon thread; :meth:`close` stops it."""

    def __init__(self, host: str, port: int, app):
        try:
            self.httpd = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port} (omero.mail.metrics.port): "
                              f"{exc.strerror or exc}") from None
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="monitoring", daemon=True)

    def start(self) -> "MonitoringServer":
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
