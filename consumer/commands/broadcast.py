"""``omero-mail broadcast``: ``omero admin email``, queued, so it survives logout.

Same arguments and messages as OMERO's (omero-py's ``omero/plugins/admin.py``, ``email``;
README, "Admin broadcast"), plus ``--cc``, ``--bcc``,
``--html`` and ``--from``. The command checks what it can (an admin asks; recipients
exist), publishes one ``admin.broadcast`` event and returns once the broker confirmed
it: the consumers send the emails whether or not this command is still running. The
rules stage checks the requester again before planning.

``--wait`` follows delivery through the broadcast's results queue (``consumer/results.py``)
with a progress bar, then prints OMERO's summary; ``broadcast status ID`` prints the same
later.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid

STATUS = "status"


def address(text: str) -> str:
    from senders.message import is_valid_address

    if not is_valid_address(text.strip()):
        raise argparse.ArgumentTypeError(f"not an email address: {text!r}")
    return text.strip()


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "broadcast", help="email users, as `omero admin email`, through the queue",
        description="Email users as `omero admin email` does, through the queue: the sending goes on after "
                    "this command returns. `omero-mail broadcast status ID` shows a broadcast's outcome later.",
    )
    parser.add_argument("subject", metavar="SUBJECT", help=f"the subject (or `{STATUS}` ID: a broadcast's outcome)")
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help="the body, words joined by spaces; absent or `-`: read from standard input")
    parser.add_argument("--everyone", action="store_true", help="all active users (users and groups ignored)")
    parser.add_argument("--inactive", action="store_true", help="include inactive users")
    parser.add_argument("--user-id", action="append", type=int, default=[], metavar="ID")
    parser.add_argument("--user-name", action="append", default=[], metavar="NAME")
    parser.add_argument("--group-id", action="append", type=int, default=[], metavar="ID")
    parser.add_argument("--group-name", action="append", default=[], metavar="NAME")
    parser.add_argument("--cc", action="append", type=address, default=[], metavar="ADDRESS",
                        help="a copy to this address, shown as Cc (one copy in all, not one per user)")
    parser.add_argument("--bcc", action="append", type=address, default=[], metavar="ADDRESS",
                        help="a copy to this address, named in no header any other recipient sees")
    parser.add_argument("--html", action="store_true",
                        help="the body is HTML; sent as multipart with a plain-text part made from it")
    parser.add_argument("--from", dest="mail_from", type=address, metavar="ADDRESS",
                        help="From address; only one listed in omero.mail.broadcast.from")
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="the admin sending (default omero.mail.broadcast.user); must be in group system")
    parser.add_argument("--wait", nargs="?", type=seconds, const=0.0, default=None, metavar="SECONDS",
                        help="follow delivery and print the summary (up to SECONDS; no value: until done)")
    parser.set_defaults(func=run, parser=parser)


def run(args) -> int:
    if args.log_level != "DEBUG":
        # Reading the results queue connects and consumes; an admin needs the summary, not that.
        logging.getLogger("events.broker").setLevel(logging.WARNING)
    if args.subject == STATUS and len(args.text) == 1 and not _recipient_options(args):
        return status(args, _event_id(args.parser, args.text[0]))
    return send(args)


def _recipient_options(args) -> bool:
    return bool(args.everyone or args.user_id or args.user_name or args.group_id or args.group_name)


def _event_id(parser, text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        parser.error(f"not a broadcast ID: {text!r}")


def _body(args) -> str:
    text = " ".join(args.text) if args.text else "-"
    return sys.stdin.read() if text == "-" else text


def send(args) -> int:
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.schemas import new_event
    from senders import broadcast

    from ..cli import properties
    from ..service import make_directory
    from . import CommandError

    props = properties(args)
    if not _recipient_options(args):
        args.parser.error(broadcast.NO_RECIPIENTS)
    subject = args.subject.strip()
    if not subject:
        args.parser.error("the subject is empty")
    body = _body(args)
    if not body.strip():
        args.parser.error("the body is empty")
    html = body if args.html else None
    text = broadcast.html_to_text(body) if args.html else body
    directory = make_directory(props)()
    requested_by = args.as_user or props["omero.mail.broadcast.user"]
    data = {
        "subject": subject, "body": text, "html": html, "everyone": args.everyone, "inactive": args.inactive,
        "user_ids": args.user_id, "user_names": args.user_name, "group_ids": args.group_id,
        "group_names": args.group_name, "cc": args.cc, "bcc": args.bcc, "requested_by": requested_by,
    }
    if args.mail_from:
        data["mail_from"] = args.mail_from
    allowed = [a.strip() for a in props["omero.mail.broadcast.from"].split(",") if a.strip()]
    try:
        broadcast.check_admin(requested_by, directory)
        broadcast.check_request(data, props["omero.mail.from"], allowed)
    except broadcast.BroadcastRefused as exc:
        raise CommandError(str(exc)) from None
    recipients = broadcast.resolve(data, directory)
    for line in recipients.warnings + recipients.errors:
        print(line, file=sys.stderr)
    if not args.everyone:
        data.update(_known(args, directory))
        if not broadcast.has_recipients(data):
            raise CommandError(broadcast.NO_RECIPIENTS)

    from .. import results

    url = props["omero.mail.broker.url"]
    event = new_event("admin.broadcast", data, source=props["omero.mail.source"])
    expires = topo.parse_duration_ms(props["omero.mail.broadcast.results.expires"])
    results.declare(url, topo.from_properties(props), event.id, expires)
    with Publisher(url) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    print(f"Broadcast {event.id} queued: `omero-mail broadcast status {event.id}` shows its outcome", flush=True)
    if args.wait is None:
        return 0
    return follow(url, event.id, args.wait)


def _known(args, directory) -> dict:
    """Only the users and groups that exist go in the event (OMERO's CLI drops the rest)."""
    return {
        "user_names": [n for n in args.user_name if directory.experimenter_by_name(n)],
        "user_ids": [i for i in args.user_id if directory.experimenter(i)],
        "group_names": [n for n in args.group_name if directory.group(n)],
        "group_ids": [i for i in args.group_id if directory.group(i)],
    }


def follow(url: str, event_id: str, limit: float) -> int:
    from .. import results
    from ..progress import Progress
    from . import CommandError

    reader = results.Reader(url, event_id)
    if not reader.start():
        reader.stop()
        raise CommandError(f"cannot read the results of broadcast {event_id}")
    deadline = time.monotonic() + limit if limit else None
    progress = Progress(None, "Sending")
    hinted = False
    started = time.monotonic()
    try:
        while True:
            tally = reader.snapshot()
            if tally.planned is not None:
                progress.update(tally.done, tally.total)
            if tally.finished or (deadline is not None and time.monotonic() >= deadline):
                break
            if tally.planned is None and not hinted and time.monotonic() - started > 10:
                hinted = True
                print("No consumer has planned the broadcast yet (is `omero-mail consume` running? "
                      "a refused broadcast is parked in omero.mail.invalid)", file=sys.stderr)
            time.sleep(0.1)
    finally:
        progress.close()
        reader.stop()
    for line in tally.summary():
        print(line)
    if tally.refused is not None:
        return 1
    if not tally.finished:
        print(f"`omero-mail broadcast status {event_id}` follows the rest")
    return 0


def status(args, event_id: str) -> int:
    from events import topology as topo

    from .. import results
    from ..cli import properties

    props = properties(args)
    url = props["omero.mail.broker.url"]
    # Declaring is idempotent; for an unknown or expired ID it makes an empty queue that expires again.
    results.declare(url, topo.from_properties(props), event_id,
                    topo.parse_duration_ms(props["omero.mail.broadcast.results.expires"]))
    tally = results.read_all(url, event_id)
    print(f"Broadcast {event_id}")
    for line in tally.summary():
        print(line)
    return 0
