"""``omero-mail sink``: a local SMTP server filing every mail into a Maildir (development)."""

from __future__ import annotations

import signal
import threading


def register(subparsers) -> None:
    parser = subparsers.add_parser("sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", default="var/mail", help="where mails are filed (default var/mail)")
    parser.set_defaults(func=run)


def run(args) -> int:
    import logging

    from ..sink import Sink

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Sink(args.host, args.port, maildir=args.maildir):
        print(f"SMTP sink on {args.host}:{args.port}, filing mails under {args.maildir}/new/", flush=True)
        stop.wait()
    return 0
