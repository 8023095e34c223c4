"""``/metrics`` and ``/healthz`` over HTTP, for every long-running omero-mail process.

The consumer and the bridge each serve their own Prometheus registry and their own
health verdict on a port of their own, from a daemon thread, so a scrape never waits for
the work and the work never waits for a scrape.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from .config import ConfigError


@dataclass(frozen=True)
class Verdict:
    """What ``/healthz`` answers: 200 when healthy, else 503, with the reason."""

    healthy: bool
    reason: str


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        """Scrapes every few seconds would drown the log."""


def application(registry: CollectorRegistry, health: Callable[[], tuple[Verdict, dict]]):
    """``/healthz``: 200 or 503 with a JSON body; anything else: the registry's metrics."""
    prometheus = make_wsgi_app(registry)

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

    def __init__(self, host: str, port: int, app, key: str = "omero.mail.metrics.port"):
        try:
            self.httpd = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on {host}:{port} ({key}): {exc.strerror or exc}") from None
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="monitoring", daemon=True)

    def start(self) -> "MonitoringServer":
        self.thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
