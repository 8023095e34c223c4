"""``omero-mail bridge``: publish a running OMERO's events (eventlog, Blitz-0.log) to RabbitMQ.

The process around the loop (``events/bridge/service.py``): metrics and health served,
SIGTERM finishes the cycle under way and exits 0, SIGINT does the same and exits 130, and
``--once`` says on stdout what it published.
"""

from __future__ import annotations

import argparse
import logging
import signal
from typing import TYPE_CHECKING

from . import properties

if TYPE_CHECKING:
    from events.bridge.settings import BridgeSettings

log = logging.getLogger("omero_mail.bridge")


def positive_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an eventlog id: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"eventlog ids start at 1, not {value}")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bridge",
        description="Publish OMERO's events to RabbitMQ: eventlog rows of OMERO's database (omero.db.*, read-only) "
                    "as object.* and comment.added, and failed logins and server start/stop from "
                    "$OMERODIR/var/log/Blitz-0.log. One bridge per OMERO is active; others stand by. "
                    "SIGTERM stops it after the cycle under way.")
    parser.add_argument("--from-id", type=positive_id, metavar="N",
                        help="publish eventlog rows from id N on (default: where the state file says, or the "
                             "current end of eventlog on a first start)")
    parser.add_argument("--once", action="store_true",
                        help="publish everything there is now, say what on one line, then exit")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve /metrics and /healthz on PORT, 0 = off (omero.mail.bridge.metrics.port)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events.bridge.settings import bridge_settings

    props = properties(args)
    if args.metrics_port is not None:
        props.update({"omero.mail.bridge.metrics.port": str(args.metrics_port)}, origin="--metrics-port")
    return serve(bridge_settings(props), from_id=args.from_id, once=args.once)


def serve(settings: "BridgeSettings", from_id: int | None, once: bool) -> int:
    from events.bridge.service import Bridge
    from events.monitoring import MonitoringServer, application

    bridge = Bridge(settings, from_id=from_id)
    monitoring = None
    if settings.metrics_port is not None:
        app = application(bridge.metrics.registry, lambda: bridge.metrics.health(settings.stuck_after))
        monitoring = MonitoringServer(settings.metrics_host, settings.metrics_port, app,
                                      key="omero.mail.bridge.metrics.port").start()
        log.info("metrics on http://%s:%d/metrics, health on /healthz", settings.metrics_host, monitoring.port)
    received: list[int] = []

    def on_signal(signum, _frame):
        log.info("received %s: finishing the cycle under way, then stopping", signal.Signals(signum).name)
        received.append(signum)
        bridge.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        bridge.run(once=once)
    finally:
        if monitoring:
            monitoring.close()
    if signal.SIGINT in received:
        return 130
    if once and not received:
        print(bridge.totals.line(bridge.cursor))
    return 0
