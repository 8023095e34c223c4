"""``omero-mail broadcast``: ``omero admin email``, queued, so it survives logout.

Same arguments, messages and exit codes as OMERO's (``omero-py``'s ``admin.py`` ``email``
and ``cli.py``'s ``UserGroupControl``), plus ``--cc``, ``--bcc``, ``--html`` and
``--from``. The command checks what it can (an admin asks; recipients exist), publishes
one ``admin.broadcast`` event and returns once the broker confirmed it: the consumers
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

#: omero-py admin.py ``email``: ``die(12, ...)`` for a "no-body" error with parameters
#: (no recipients, no body), ``die(13, "Failed to send emails:...")`` for every other one.
EXIT_NO_BODY, EXIT_FAILED = 12, 13


def address(text: str) -> str:
    from senders.message import is_valid_address

    if not is_valid_address(text.strip()):
        raise argparse.ArgumentTypeError(f"not an email address: {text!r}")
    return text.strip()


def recipient(text: str) -> str:
    from senders.address import is_valid_recipient

    if not is_valid_recipient(text.strip()):
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
    if exc.omero is None:
        return die(EXIT_FAILED, f"Failed to send emails:\n{exc}")
    name, text = exc.omero
    if name == "no-body":
        return die(EXIT_NO_BODY, f"ApiUsageException:{text}")
    return die(EXIT_FAILED, f"Failed to send emails:\nApiUsageException:{text} ({exc})")


def _should_wait(args) -> bool:
    if args.no_wait:
        return False
    return args.wait is not None or sys.stdout.isatty()


def check_acting_for(props, requested_by: str) -> None:
    """BroadcastRefused unless the admin's broker user may broadcast as ``requested_by``."""
    from senders import broadcast

    from ...access.trust import ACTS_FOR, Trust

    trust = Trust.from_properties(props)
    user = props["omero.mail.broadcast.user"]
    if trust.checked and not trust.may_broadcast_as(user, requested_by):
        raise broadcast.BroadcastRefused(f"broker user {user!r} may not broadcast as {requested_by!r} ({ACTS_FOR})",
                                         broadcast.NO_PERMISSIONS)


def send(args) -> int:
    from events import topology as topo
    from events.broker import Message, PublishError, Publisher
    from events.schemas import new_event
    from events.settings import read_settings
    from senders import broadcast

    from ...stages.service import make_directory
    from . import CommandError

    props = properties(args)
    directory = make_directory(props)()
    requested_by = args.as_user or props["omero.mail.broadcast.user"]
    known, errors = _known(args, directory)
    for line in errors:
        print(line, file=sys.stderr)
    if args.everyone and any(known.values()):
        print(broadcast.IGNORED, file=sys.stderr)
    data = {
        "subject": args.subject.strip(), "everyone": args.everyone, "inactive": args.inactive,
        **({} if args.everyone else known), "cc": args.cc, "bcc": args.bcc, "requested_by": requested_by,
    }
    if args.mail_from:
        data["mail_from"] = args.mail_from
    allowed = [a.strip() for a in props["omero.mail.broadcast.from"].split(",") if a.strip()]
    try:
        # SendEmailRequestI.init's order: permissions, recipients, then the request itself.
        check_acting_for(props, requested_by)
        broadcast.check_admin(requested_by, directory)
        if not broadcast.has_recipients(data):
            raise broadcast.BroadcastRefused(broadcast.NO_RECIPIENTS, broadcast.NO_RECIPIENTS_ERR)
        broadcast.check_request({**data, "body": "-"}, props["omero.mail.from"], allowed)
        body = _body(args)
        html = body if args.html else None
        data.update(body=broadcast.html_to_text(body) if args.html else body, html=html)
        broadcast.check_request(data, props["omero.mail.from"], allowed)
    except broadcast.BroadcastRefused as exc:
        return _refused(exc)

    from .. import results

    url = broker_url(props)
    event = new_event("admin.broadcast", data, source=props["omero.mail.source"], event_id=args.event_id)
    settings = read_settings(props)
    results.declare(url, topo.from_properties(props), event.id, settings.broadcast_results_expires_ms)
    try:
        with Publisher(url, timeout=settings.broadcast_timeout) as publisher:
            publisher.publish_many([results.queued(event.id),
                                    Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id)])
    except PublishError as exc:
        raise CommandError(f"broadcast {event.id} may not be queued, or may still be delivered: {exc}. "
                           f"The same command with --id {event.id} queues it again under the same ID, "
                           "so nobody gets an email twice") from None
    print(f"Broadcast {event.id} queued: `omero-mail broadcast status {event.id}` shows its outcome", flush=True)
    if not _should_wait(args):
        return 0
    return follow(url, event.id, args.wait or 0.0)


def _known(args, directory) -> tuple[dict, list[str]]:
    """The users and groups that exist, and OMERO's error line for each that does not.

    omero-py cli.py ``get_users_groups`` (names, then IDs, users before groups), with
    ``find_user_by_id``'s "Not a valid user ID" for what is not a number: non-fatal,
    the rest still goes out.
    """
    known: dict[str, list[str | int]] = {"user_names": [], "user_ids": [], "group_names": [], "group_ids": []}
    errors: list[str] = []
    for name in args.user_name:
        if directory.experimenter_by_name(name):
            known["user_names"].append(name)
        else:
            errors.append(f"Unknown user: {name}")
    for text in args.user_id:
        user_id = _int(text)
        if user_id is None:
            errors.append(f"Not a valid user ID: {text}")
        elif directory.experimenter(user_id):
            known["user_ids"].append(user_id)
        else:
            errors.append(f"Unknown user: {user_id}")
    for name in args.group_name:
        if directory.group(name):
            known["group_names"].append(name)
        else:
            errors.append(f"Unknown group: {name}")
    for text in args.group_id:
        group_id = _int(text)
        if group_id is None:
            errors.append(f"Not a valid group ID: {text}")
        elif directory.group(group_id):
            known["group_ids"].append(group_id)
        else:
            errors.append(f"Unknown group: {group_id}")
    return known, errors


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
