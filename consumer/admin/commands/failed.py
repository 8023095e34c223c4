"""``omero-mail failed|invalid list|show|replay|purge``: the replay tool for the parking lots.

``failed`` works on ``omero.mail.failed`` (emails that could not be delivered; replayed
to the outbox), ``invalid`` on ``omero.mail.invalid`` (events the rules stage refused;
replayed to ``omero.events`` with their first routing key, after a fix). Reading a lot
never hides it from anyone else: what is read is given back at once, and nothing is held
across the purge prompt; replay and purge take only the messages they act on, and
replay confirms each copy before removing the original (``consumer/admin/parking.py``). An
empty id or filter is a usage error, never "everything"; an id that is the start of
several is refused unless each is named or ``--all-matching`` is given; what was parked
as untrusted is replayed only when named with ``--untrusted``.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import CommandError, properties

COLUMNS = ("id", "when", "sender", "recipient", "subject", "attempts", "verdict", "error")
WIDTHS = {"id": 12, "when": 25, "sender": 24, "recipient": 28, "subject": 30, "attempts": 8, "verdict": 9,
          "error": 60}


def since(text: str):
    from ..parking import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def message_id(text: str) -> str:
    """An id or the start of one; empty (or ``<>``) would be the start of every id."""
    if not text.strip().strip("<>").strip():
        raise argparse.ArgumentTypeError(f"an empty id ({text!r}) is the start of every id; give one")
    return text.strip()


def nonempty(text: str) -> str:
    """A filter's value; an empty one would match every message."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"an empty value ({text!r}) would match every message; give one")
    return text


def register(subparsers) -> None:
    for lot in ("failed", "invalid"):
        parser = subparsers.add_parser(lot)
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser("list", help="a table of the parked messages (nothing is taken off)")
        _filters(listing)
        listing.add_argument("--json", action="store_true", help="one JSON list instead of a table")
        listing.set_defaults(func=run_list, lot=lot)
        show = actions.add_parser("show", help="one parked message: headers and body")
        show.add_argument("id", type=message_id, help="its id (or the start of it), as `list` shows")
        show.add_argument("--json", action="store_true")
        show.set_defaults(func=run_show, lot=lot)
        replay = actions.add_parser("replay", help="put the chosen messages back (all without ids or filters); "
                                                   "an untrusted one only when named with --untrusted")
        _filters(replay, ids=True)
        replay.add_argument("--untrusted", action="append", default=[], type=message_id, metavar="ID",
                            help="replay this untrusted message too, as your broker user: you vouch for it "
                                 "(repeatable; logged at WARNING)")
        replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
        replay.set_defaults(func=run_replay, lot=lot)
        purge = actions.add_parser("purge", help="delete the chosen messages for good (asks first)")
        _filters(purge, ids=True)
        purge.add_argument("--dry-run", action="store_true", help="say what would be purged, change nothing")
        purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        purge.set_defaults(func=run_purge, lot=lot)


def _filters(parser: argparse.ArgumentParser, ids: bool = False) -> None:
    if ids:
        parser.add_argument("ids", nargs="*", type=message_id, metavar="ID",
                            help="ids (or their start) as `list` shows")
        parser.add_argument("--all-matching", action="store_true",
                            help="an ID that is the start of several ids acts on all of them")
    # No default string: argparse would check it with ``type`` like a given one.
    parser.add_argument("--sender", type=nonempty,
                        help="the mail sender (e.g. failedLoginMailSender) or event type")
    parser.add_argument("--recipient", type=nonempty, help="part of the recipient's address")
    parser.add_argument("--since", type=since, default=None, metavar="WHEN",
                        help="parked since a date (2026-11-23T10:00) or within an age (2h, 30m)")
    parser.add_argument("--error", type=nonempty, help="part of the last error")


def _read(args):
    """The lot's attendant (``consumer/admin/attendant.py``) and an entry per parked message.

    Everything read is given back before this returns, so the lot stays whole for everyone else.
    """
    from ..attendant import Attendant

    attendant = Attendant.of(properties(args), args.lot)
    return attendant, attendant.entries()


def _filter(args):
    from .. import parking

    return parking.Filter(sender=args.sender or "", recipient=args.recipient or "", since=args.since,
                          error=args.error or "")


def _choose(args, attendant, entries, **options):
    from .. import parking

    try:
        return attendant.choose(entries, args.ids, _filter(args), all_matching=args.all_matching, **options)
    except parking.Refused as exc:
        raise CommandError(str(exc)) from None


def _bar(label: str):
    from ..progress import Progress

    return lambda total: Progress(total, label)


def _tell_gone(lot, done) -> None:
    if done.gone:
        print(f"{done.gone} of the chosen message(s) had left {lot.queue} meanwhile (replayed or purged by someone "
              "else); nothing was done to them", file=sys.stderr)


def _table(entries) -> None:
    def cell(column, item):
        value = str(getattr(item, column))
        width = WIDTHS[column]
        return (value if len(value) <= width else value[:width - 1] + "…").ljust(width)

    print("  ".join(c.upper().ljust(WIDTHS[c]) for c in COLUMNS).rstrip())
    for item in entries:
        print("  ".join(cell(c, item) for c in COLUMNS).rstrip())


def run_list(args) -> int:
    from .. import parking

    attendant, entries = _read(args)
    lot = attendant.lot
    chosen = parking.select(entries, _filter(args))
    if args.json:
        print(json.dumps([item.as_dict() for item in chosen], ensure_ascii=False, indent=2))
    else:
        _table(chosen)
        print(f"{len(chosen)} of {len(entries)} message(s) in {lot.queue}", file=sys.stderr)
    return 0


def run_show(args) -> int:
    from .. import parking

    attendant, entries = _read(args)
    lot = attendant.lot
    found = parking.named(entries, args.id)
    if not found:
        raise CommandError(f"no message {args.id!r} in {lot.queue}")
    if len({item.id for item in found}) > 1:
        raise CommandError(f"{args.id!r} matches {len(found)} messages in {lot.queue}; give more of the id")
    # Copies of one message (parked for some recipients, then for others) share its id: all are shown.
    for item in found:
        _show(item, args.json)
    return 0


def _show(item, as_json: bool) -> None:
    details = item.as_dict()
    details["headers"] = {k: _plain(v) for k, v in item.parked.headers.items()}
    body = item.parked.body.decode("utf-8", "replace")
    try:
        details["body"] = json.loads(body)
    except ValueError:
        details["body"] = body
    if as_json:
        print(json.dumps(details, ensure_ascii=False, indent=2, default=str))
        return
    for key, value in details.items():
        if key not in ("headers", "body") and (value or key != "untrusted"):
            print(f"{key}: {value}")
    print("body:")
    print(json.dumps(details["body"], ensure_ascii=False, indent=2) if isinstance(details["body"], dict)
          else details["body"])


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def run_replay(args) -> int:
    from .. import parking

    attendant, entries = _read(args)
    lot = attendant.lot
    choice = _choose(args, attendant, entries, replaying=True, vouched_ids=args.untrusted)
    _tell_left(lot, choice)
    target = "the outbox" if lot is parking.FAILED else "omero.events"
    if args.dry_run:
        _table(choice.acted)
        print(f"would replay {len(choice.acted)} of {len(entries)} message(s) from {lot.queue} to {target}")
        return 0
    done = attendant.replay(choice, _bar(f"replaying {lot.queue}"))
    _tell_gone(lot, done)
    print(f"replayed {done.done} message(s) from {lot.queue} to {target}")
    return 0


def _tell_left(lot, choice) -> None:
    """What a replay leaves in the lot although it matched, and why: never silent."""
    untrusted = [item.id for item, _why in choice.left if item.untrusted]
    if untrusted:
        print(f"{len(untrusted)} untrusted message(s) left in {lot.queue}, never sent unless named: "
              f"omero-mail {lot.name} replay --untrusted ID ({', '.join(untrusted)})", file=sys.stderr)
    for item, why in choice.left:
        if not item.untrusted:
            print(f"left {item.id} in {lot.queue}: it {why}", file=sys.stderr)


def run_purge(args) -> int:
    attendant, entries = _read(args)
    lot = attendant.lot
    choice = _choose(args, attendant, entries)
    if args.dry_run:
        _table(choice.acted)
        print(f"would purge {len(choice.acted)} of {len(entries)} message(s) from {lot.queue}")
        return 0
    if choice.acted and not args.yes:
        _confirm(f"purge {len(choice.acted)} of {len(entries)} message(s) from {lot.queue} for good?")
    done = attendant.purge(choice, _bar(f"purging {lot.queue}"))
    _tell_gone(lot, done)
    print(f"purged {done.done} message(s) from {lot.queue}")
    return 0


def _confirm(question: str) -> None:
    """Asked with nothing held: the lot stays whole for everyone else while the admin thinks."""
    if not sys.stdin.isatty():
        raise CommandError(f"refusing to {question.rstrip('?')} without confirmation: no terminal to ask; "
                           "pass --yes")
    try:
        answer = input(f"{question[:1].upper()}{question[1:]} [y/N] ").strip().lower()
    except EOFError:
        answer = ""
        print(file=sys.stdout)
    if answer not in ("y", "yes"):
        raise CommandError("purge cancelled; nothing deleted")
