"""``make run`` in one process: the development SMTP sink, the web app, then the consumer.

One process, which make starts directly, so whatever stops ``make run`` stops all three:
Ctrl-C, or ``kill`` of make's pid (make passes SIGTERM on to it). The sink and the web app
take their ports first, so a busy port is one line and the consumer is never started with
nowhere to deliver.

    python -m consumer.admin.devrun [--port 8025] [--web-port 4080] [--maildir var/mail] [omero-mail's global options]
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import threading
from typing import Sequence

from .cli import main as omero_mail
from .sink import Sink
from .web.server import make_server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025, help="the SMTP sink's port (SINK_PORT)")
    parser.add_argument("--web-port", type=int, default=4080, help="the web app's port (WEB_PORT)")
    parser.add_argument("--maildir", default="var/mail")
    parser.add_argument("--config", action="append", default=[])
    args, global_options = parser.parse_known_args(argv)
    global_options += [option for path in args.config for option in ("--config", path)]
    try:
        sink = Sink("127.0.0.1", args.port, maildir=args.maildir).start()
    except OSError as exc:
        return _busy(exc, args.port, "the SMTP sink", "SINK_PORT")
    print(f"SMTP sink on 127.0.0.1:{args.port}, filing mails under {args.maildir}/new/", flush=True)
    # The consumer delivers to this sink, whatever port it was given.
    os.environ.update({"OMERO_MAIL_HOST": "127.0.0.1", "OMERO_MAIL_PORT": str(args.port)})
    try:
        web = make_server("127.0.0.1", args.web_port, args.config, None)
    except OSError as exc:
        sink.stop()
        return _busy(exc, args.web_port, "the web app", "WEB_PORT")
    threading.Thread(target=web.run, name="web", daemon=True).start()
    print(f"Web app on http://127.0.0.1:{args.web_port}/ (log in as root, password guest)", flush=True)
    try:
        return omero_mail([*global_options, "consume"])
    finally:
        web.close()
        sink.stop()


def _busy(exc: OSError, port: int, what: str, variable: str) -> int:
    why = "is busy" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror or exc})"
    print(f"make run: port {port} for {what} {why}; the consumer is not started "
          f"(free it, or run make run {variable}=<another port>)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
