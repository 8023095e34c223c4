"""``omero-mail publish-spool FILE``: publish the events a web process had to spool.

When OMERO.web cannot reach the broker it appends each ``web.error`` event to a spool
file (``events/web/publish.py``) rather than lose it. This publishes them, confirmed,
and empties the file; a line that is not a valid event is kept in ``FILE.invalid`` with
nothing else lost. The emptied file stays, with the web process's owner and mode, so a
missing FILE is a wrong path (exit 1), never mistaken for "nothing spooled".
"""

from __future__ import annotations

import os
from pathlib import Path

from . import properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("publish-spool")
    parser.add_argument("file", type=Path, metavar="FILE", help="the spool file (OMERO_MAIL_SPOOL)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.schemas import InvalidEvent, load_event

    from . import CommandError

    props = properties(args)
    # Take the file first, so events spooled meanwhile go to a new one and none is lost.
    taken = args.file.with_name(args.file.name + f".publishing-{os.getpid()}")
    try:
        os.replace(args.file, taken)
    except FileNotFoundError:
        raise CommandError(f"no spool file {args.file} (OMERO.web's OMERO_MAIL_SPOOL; it is made when an "
                           "event is first spooled)") from None
    except OSError as exc:
        raise CommandError(f"cannot take {args.file}: {exc.strerror}") from None
    lines = taken.read_bytes().splitlines()
    if not any(line.strip() for line in lines):
        _leave_empty(taken, args.file)
        print(f"{args.file}: nothing spooled")
        return 0
    events, invalid = [], []
    for line in lines:
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
    _leave_empty(taken, args.file)
    print(f"published {len(events)} event(s) from {args.file}" + (f"; {len(invalid)} invalid line(s) kept in "
                                                                 f"{args.file}.invalid" if invalid else ""))
    return 0


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as target:
        target.write(data)


def _leave_empty(taken: Path, spool: Path) -> None:
    """Put the taken file back, emptied, unless the web process has begun a new one meanwhile."""
    os.truncate(taken, 0)
    try:
        os.link(taken, spool)
    except FileExistsError:
        pass
    taken.unlink()


def _give_back(taken: Path, spool: Path) -> None:
    """Nothing was published for sure: the events go back to the spool file."""
    if spool.exists():
        _append(spool, taken.read_bytes())
        taken.unlink()
    else:
        os.replace(taken, spool)
