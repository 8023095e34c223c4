"""``omero-mail broadcast``: ``omero admin email``, queued, so it survives logout.

Same arguments, messages and exit codes as OMERO's (``omero-py``'s ``admin.py`` ``email``
and ``cli.py``'s ``UserGroupControl``), plus ``--cc``, ``--bcc``, ``--html`` and
``--from``. The command checks what it can (an admin asks; recipients exist), publishes
one ``admin.broadcast`` event and returns once the broker confirmed it (the checks and the
publish are ``consumer/admin/broadcasting.py``, which the web app's Email page shares): the consumers
send the emails whether or not this command is still running. The rules stage checks
the requester again before planning.

On a terminal it then waits and prints OMERO's summary, as ``omero admin email`` does;
elsewhere (a script, cron) it returns at once unless ``--wait`` is given; ``--no-wait``
never waits. Waiting follows delivery through the broadcast's results queue
(``consumer/admin/results.py``) with a progress bar. ``broadcast status ID`` prints the same
summary later: ``status`` as the first word is always that command, never a subject.
Both are in ``broadcast_status.py``.

With the publishers checked (``omero.mail.broker.check-publishers``) the command
connects as the admin's own broker user (``consumer/access/credentials.py``), and ``--as``
may name only an admin that user may broadcast as (``consumer/access/trust.py``). A publish
whose confirm never came may still be delivered: the error names the broadcast's ID,
and ``--id`` publishes it again under that ID, so its emails keep their Message-IDs.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import properties
from .broadcast_status import broker_url, die, follow, status

STATUS = "status"


def address(text: str) -> str:
    from senders.message import is_valid_address

    if not is_valid_address(text.strip()):
        raise argparse.ArgumentTypeError(f"not an email address: {text!r}")
    return text.strip()


def recipient(text: str) -> str:
    from ..broadcasting import address_error

    error = address_error(text)
    if error:
        raise argparse.ArgumentTypeError(error)
    return text.strip()


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def event_id(text: str) -> str:
    import uuid

    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a broadcast ID (a UUID): {text!r}") from None


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "broadcast",
        description="Email users as `omero admin email` does, through the queue: the sending goes on after "
                    "this command returns. `omero-mail broadcast status ID` shows a broadcast's outcome later.",
    )
    parser.add_argument("subject", metavar="SUBJECT",
                        help=f"the subject; `{STATUS} ID` instead shows a broadcast's outcome (so `{STATUS}` "
                             "alone is never a subject)")
    parser.add_argument("text", nargs="*", metavar="TEXT",
                        help="the body, words joined by spaces; absent or `-`: read from standard input")
    parser.add_argument("--everyone", action="store_true", help="all active users (users and groups ignored)")
    parser.add_argument("--inactive", action="store_true", help="include inactive users")
    # IDs are checked as OMERO's CLI checks them: "Not a valid user ID: x" on stderr, the rest still sent.
    parser.add_argument("--user-id", action="append", default=[], metavar="ID")
    parser.add_argument("--user-name", action="append", default=[], metavar="NAME")
    parser.add_argument("--group-id", action="append", default=[], metavar="ID")
    parser.add_argument("--group-name", action="append", default=[], metavar="NAME")
    parser.add_argument("--cc", action="append", type=recipient, default=[], metavar="ADDRESS",
                        help="a copy to this address, shown as Cc (one copy in all, not one per user)")
    parser.add_argument("--bcc", action="append", type=recipient, default=[], metavar="ADDRESS",
                        help="a copy to this address, named in no header any other recipient sees")
    parser.add_argument("--html", action="store_true",
                        help="the body is HTML; sent as multipart with a plain-text part made from it")
    parser.add_argument("--from", dest="mail_from", type=address, metavar="ADDRESS",
                        help="From address; only one listed in omero.mail.broadcast.from")
    parser.add_argument("--as", dest="as_user", metavar="USER",
                        help="the admin sending (default omero.mail.broadcast.user); must be in group system, "
                             "and one the broker user may broadcast as")
    parser.add_argument("--id", dest="event_id", type=event_id, metavar="UUID",
                        help="publish again under this broadcast ID (after an uncertain publish): "
                             "the emails keep their Message-IDs")
    waiting = parser.add_mutually_exclusive_group()
    waiting.add_argument("--wait", nargs="?", type=seconds, const=0.0, default=None, metavar="SECONDS",
                         help="follow delivery and print the summary (up to SECONDS; no value: until done); "
                              "the default on a terminal; exit 1 if any email failed")
    waiting.add_argument("--no-wait", action="store_true",
                         help="return once the broadcast is queued (the default when not on a terminal)")
    parser.set_defaults(func=run, parser=parser)


def run(args) -> int:
    if args.log_level != "DEBUG":
        # Reading the results queue connects and consumes; an admin needs the summary, not that.
        logging.getLogger("events.broker").setLevel(logging.WARNING)
    if args.subject == STATUS:
        if len(args.text) != 1 or _recipient_options(args) or _sending_options(args):
            args.parser.error(f"`{STATUS}` takes one broadcast ID and no other option: "
                              f"omero-mail broadcast {STATUS} ID (`{STATUS}` is never a subject)")
        if not args.text[0].strip():
            args.parser.error(f"`{STATUS}` takes a broadcast ID (or its start); an empty one names none")
        return status(args, args.text[0])
    return send(args)


def _recipient_options(args) -> bool:
    return bool(args.everyone or args.user_id or args.user_name or args.group_id or args.group_name)


def _sending_options(args) -> bool:
    return bool(args.inactive or args.cc or args.bcc or args.html or args.mail_from or args.as_user
                or args.event_id or args.wait is not None or args.no_wait)


def _body(args) -> str:
    text = " ".join(args.text) if args.text else "-"
    return sys.stdin.read() if text == "-" else text


def _refused(exc) -> int:
    """A refusal as OMERO's CLI reports it (admin.py ``email``), our reason after OMERO's text."""
    from ..broadcasting import refusal

    code, lines = refusal(exc)
    return die(code, "\n".join(lines))


def _should_wait(args) -> bool:
    if args.no_wait:
        return False
    return args.wait is not None or sys.stdout.isatty()


def send(args) -> int:
    from senders import broadcast

    from .. import broadcasting
    from ...stages.service import make_directory
    from . import CommandError

    props = properties(args)
    directory = make_directory(props)()
    request = broadcasting.Request(
        subject=args.subject, body=lambda: _body(args), requested_by=args.as_user or props["omero.mail.broadcast.user"],
        everyone=args.everyone, inactive=args.inactive, user_names=args.user_name, user_ids=args.user_id,
        group_names=args.group_name, group_ids=args.group_id, cc=args.cc, bcc=args.bcc, html=args.html,
        mail_from=args.mail_from)
    found = broadcasting.named(request, directory)
    for line in found.lines:
        print(line, file=sys.stderr)
    try:
        ready = broadcasting.check(request, found, props, directory, acting_user=props["omero.mail.broadcast.user"])
    except broadcast.BroadcastRefused as exc:
        return _refused(exc)
    url = broker_url(props)
    try:
        event_id = broadcasting.queue(url, props, ready, args.event_id)
    except broadcasting.Uncertain as exc:
        raise CommandError(exc.advice(f"The same command with --id {exc.event_id}")) from None
    print(f"Broadcast {event_id} queued: `omero-mail broadcast status {event_id}` shows its outcome", flush=True)
    if not _should_wait(args):
        return 0
    return follow(url, event_id, args.wait or 0.0)
