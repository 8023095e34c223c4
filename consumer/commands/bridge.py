"""``omero-mail bridge``: publish a running OMERO's events (eventlog, Blitz-0.log) to RabbitMQ."""

from __future__ import annotations

import argparse

from . import properties


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
                        help="publish what is there now (one cycle), then exit")
    parser.add_argument("--metrics-port", type=int, metavar="PORT",
                        help="serve /metrics and /healthz on PORT, 0 = off (omero.mail.bridge.metrics.port)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events.bridge.service import run as run_bridge
    from events.bridge.settings import bridge_settings


    props = properties(args)
    if args.metrics_port is not None:
        props.update({"omero.mail.bridge.metrics.port": str(args.metrics_port)}, origin="--metrics-port")
    return run_bridge(bridge_settings(props), from_id=args.from_id, once=args.once)
