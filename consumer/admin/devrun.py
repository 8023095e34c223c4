"""``make run`` in one process: the development SMTP sink, then the consumer.

One process, which make starts directly, so whatever stops ``make run`` stops both: Ctrl-C,
or ``kill`` of make's pid (make passes SIGTERM on to it). The sink takes its port first,
so a busy port is one line and the consumer is never started with nowhere to deliver.

    python -m consumer.admin.devrun [--port 8025] [--maildir var/mail] [omero-mail's global options]
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import Sequence

from .cli import main as omero_mail
from .sink import Sink


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025, help="the SMTP sink's port (SINK_PORT)")
    parser.add_argument("--maildir", default="var/mail")
    args, global_options = parser.parse_known_args(argv)
    try:
        sink = Sink("127.0.0.1", args.port, maildir=args.maildir).start()
    except OSError as exc:
        why = "is busy" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror or exc})"
        print(f"make run: port {args.port} for the SMTP sink {why}; the consumer is not started "
              f"(free it, or run make run SINK_PORT=<another port>)", file=sys.stderr)
        return 1
    print(f"SMTP sink on 127.0.0.1:{args.port}, filing mails under {args.maildir}/new/", flush=True)
    # The consumer delivers to this sink, whatever port it was given.
    os.environ.update({"OMERO_MAIL_HOST": "127.0.0.1", "OMERO_MAIL_PORT": str(args.port)})
    try:
        return omero_mail([*global_options, "consume"])
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
