"""``omero-mail failed|invalid list|show|replay|purge``: the replay tool for the parking lots.

``failed`` works on ``omero.mail.failed`` (emails that could not be delivered; replayed
to the outbox), ``invalid`` on ``omero.mail.invalid`` (events the rules stage refused;
replayed to ``omero.events`` with their first routing key, after a fix). Listing never
takes a message off its queue; replay confirms each copy before removing the original.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import CommandError, properties

COLUMNS = ("id", "when", "sender", "recipient", "subject", "attempts", "error")
WIDTHS = {"id": 12, "when": 25, "sender": 24, "recipient": 28, "subject": 30, "attempts": 8, "error": 60}


def since(text: str):
    from ..parking import parse_since

    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers) -> None:
    for lot in ("failed", "invalid"):
        parser = subparsers.add_parser(lot)
        actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        listing = actions.add_parser("list", help="a table of the parked messages (nothing is taken off)")
        _filters(listing)
        listing.add_argument("--json", action="store_true", help="one JSON list instead of a table")
        listing.set_defaults(func=run_list, lot=lot)
        show = actions.add_parser("show", help="one parked message: headers and body")
        show.add_argument("id", help="its id (or the start of it), as `list` shows")
        show.add_argument("--json", action="store_true")
        show.set_defaults(func=run_show, lot=lot)
        replay = actions.add_parser("replay", help="put the chosen messages back (all without ids or filters)")
        _filters(replay, ids=True)
        replay.add_argument("--dry-run", action="store_true", help="say what would be replayed, change nothing")
        replay.set_defaults(func=run_replay, lot=lot)
        purge = actions.add_parser("purge", help="delete the chosen messages for good (asks first)")
        _filters(purge, ids=True)
        purge.add_argument("--dry-run", action="store_true", help="say what would be purged, change nothing")
        purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        purge.set_defaults(func=run_purge, lot=lot)


def _filters(parser: argparse.ArgumentParser, ids: bool = False) -> None:
    if ids:
        parser.add_argument("ids", nargs="*", metavar="ID", help="ids (or their start) as `list` shows")
    parser.add_argument("--sender", default="", help="the mail sender (e.g. failedLoginMailSender) or event type")
    parser.add_argument("--recipient", default="", help="part of the recipient's address")
    parser.add_argument("--since", type=since, default=None, metavar="WHEN",
                        help="parked since a date (2026-11-23T10:00) or within an age (2h, 30m)")
    parser.add_argument("--error", default="", help="part of the last error")


def _open(args):
    from events.broker import QueueBrowser

    from .. import parking

    lot = parking.FAILED if args.lot == "failed" else parking.INVALID
    browser = QueueBrowser(properties(args)["omero.mail.broker.url"], lot.queue)
    return lot, browser, [parking.entry(p) for p in browser.messages()]


def _chosen(args, entries, lot):
    """The entries the filters choose; an id given that is in the lot no more is an error, as in ``show``."""
    from .. import parking

    ids = tuple(getattr(args, "ids", ()) or ())
    unknown = [i for i in ids if not parking.select(entries, parking.Filter(ids=(i,)))]
    if unknown:
        raise CommandError(f"no message {unknown[0]!r} in {lot.queue}" + (
            f" (nor {len(unknown) - 1} other id(s) given)" if len(unknown) > 1 else "") + "; nothing done")
    chosen = parking.Filter(ids=ids, sender=args.sender, recipient=args.recipient, since=args.since, error=args.error)
    return parking.select(entries, chosen)


def _table(entries) -> None:
    def cell(column, item):
        value = str(getattr(item, column))
        width = WIDTHS[column]
        return (value if len(value) <= width else value[:width - 1] + "…").ljust(width)

    print("  ".join(c.upper().ljust(WIDTHS[c]) for c in COLUMNS).rstrip())
    for item in entries:
        print("  ".join(cell(c, item) for c in COLUMNS).rstrip())


def run_list(args) -> int:
    lot, browser, entries = _open(args)
    with browser:
        chosen = _chosen(args, entries, lot)
    if args.json:
        print(json.dumps([item.as_dict() for item in chosen], ensure_ascii=False, indent=2))
    else:
        _table(chosen)
        print(f"{len(chosen)} of {len(entries)} message(s) in {lot.queue}", file=sys.stderr)
    return 0


def run_show(args) -> int:
    from .. import parking

    lot, browser, entries = _open(args)
    with browser:
        found = parking.select(entries, parking.Filter(ids=(args.id,)))
    if not found:
        raise CommandError(f"no message {args.id!r} in {lot.queue}")
    if len(found) > 1:
        raise CommandError(f"{args.id!r} matches {len(found)} messages in {lot.queue}; give more of the id")
    item = found[0]
    details = item.as_dict()
    details["headers"] = {k: _plain(v) for k, v in item.parked.headers.items()}
    body = item.parked.body.decode("utf-8", "replace")
    try:
        details["body"] = json.loads(body)
    except ValueError:
        details["body"] = body
    if args.json:
        print(json.dumps(details, ensure_ascii=False, indent=2, default=str))
        return 0
    for key, value in details.items():
        if key not in ("headers", "body"):
            print(f"{key}: {value}")
    print("body:")
    print(json.dumps(details["body"], ensure_ascii=False, indent=2) if isinstance(details["body"], dict)
          else details["body"])
    return 0


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
    from ..progress import Progress

    lot, browser, entries = _open(args)
    with browser:
        chosen = _chosen(args, entries, lot)
        target = "the outbox" if lot is parking.FAILED else "omero.events"
        if args.dry_run:
            _table(chosen)
            print(f"would replay {len(chosen)} of {len(entries)} message(s) from {lot.queue} to {target}")
            return 0
        with Progress(len(chosen), f"replaying {lot.queue}") as progress:
            done = parking.replay(browser, lot, chosen, progress.advance)
    print(f"replayed {done} message(s) from {lot.queue} to {target}")
    return 0


def run_purge(args) -> int:
    from .. import parking
    from ..progress import Progress

    lot, browser, entries = _open(args)
    with browser:
        chosen = _chosen(args, entries, lot)
        if args.dry_run:
            _table(chosen)
            print(f"would purge {len(chosen)} of {len(entries)} message(s) from {lot.queue}")
            return 0
        if chosen and not args.yes:
            _confirm(f"purge {len(chosen)} of {len(entries)} message(s) from {lot.queue} for good?")
        with Progress(len(chosen), f"purging {lot.queue}") as progress:
            done = parking.purge(browser, chosen, progress.advance)
    print(f"purged {done} message(s) from {lot.queue}")
    return 0


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise CommandError(f"refusing to {question.rstrip('?')} without confirmation: no terminal to ask; "
                           "pass --yes")
    answer = input(f"{question[:1].upper()}{question[1:]} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CommandError("purge cancelled; nothing deleted")
