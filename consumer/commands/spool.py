"""``omero-mail publish-spool FILE``: publish the events a web process had to spool.

When OMERO.web cannot reach the broker it appends each ``web.error`` event to a spool
file (``events/web/publish.py``) rather than lose it. This publishes them, confirmed,
and empties the file; a line that is not a valid event is kept in ``FILE.invalid`` with
nothing else lost.
"""

from __future__ import annotations

import os
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("publish-spool", help="publish the events OMERO.web spooled while the broker was down")
    parser.add_argument("file", type=Path, metavar="FILE", help="the spool file (OMERO_MAIL_SPOOL)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.schemas import InvalidEvent, load_event

    from ..cli import properties
    from . import CommandError

    props = properties(args)
    # Take the file first, so events spooled meanwhile go to a new one and none is lost.
    taken = args.file.with_name(args.file.name + f".publishing-{os.getpid()}")
    try:
        os.replace(args.file, taken)
    except FileNotFoundError:
        print(f"{args.file}: nothing spooled")
        return 0
    except OSError as exc:
        raise CommandError(f"cannot take {args.file}: {exc.strerror}") from None
    events, invalid = [], []
    for line in taken.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            events.append(load_event(line))
        except InvalidEvent:
            invalid.append(line)
    try:
        with Publisher(props["omero.mail.broker.url"]) as publisher:
            publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id) for e in events])
    except Exception:
        _give_back(taken, args.file)
        raise
    if invalid:
        _append(args.file.with_name(args.file.name + ".invalid"), b"\n".join(invalid) + b"\n")
    taken.unlink()
    print(f"published {len(events)} event(s) from {args.file}" + (f"; {len(invalid)} invalid line(s) kept in "
                                                                 f"{args.file}.invalid" if invalid else ""))
    return 0


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as target:
        target.write(data)


def _give_back(taken: Path, spool: Path) -> None:
    """Nothing was published for sure: the events go back to the spool file."""
    if spool.exists():
        _append(spool, taken.read_bytes())
        taken.unlink()
    else:
        os.replace(taken, spool)
