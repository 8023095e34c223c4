"""``omero-mail publish TYPE [--data JSON]``: publish one event, exit 0 once confirmed.

What an OMERO-side hook or a script calls. The event is validated before it leaves, so
a typo is a usage error here (exit 2) rather than a parked message later.
"""

from __future__ import annotations

import argparse
import json

from . import properties


def json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def data_fields() -> str:
    """Each event type's ``--data`` fields, required ones marked, as ``publish --help`` ends."""
    from events.schemas import DATA_SCHEMAS

    width = max(map(len, DATA_SCHEMAS))
    lines = ["event types and their --data fields (* required; others optional, extra ones kept):"]
    for kind, schema in DATA_SCHEMAS.items():
        fields = ", ".join(name + ("*" if field.required else "") for name, field in schema().fields.items())
        lines.append(f"  {kind.ljust(width)}  {fields or '(none)'}")
    return "\n".join(lines)


def register(subparsers) -> None:
    from events.schemas import EVENT_TYPES

    parser = subparsers.add_parser("publish", epilog=data_fields(),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("type", choices=EVENT_TYPES, metavar="TYPE", help=f"one of {', '.join(EVENT_TYPES)}")
    parser.add_argument("--data", type=json_object, default={}, metavar="JSON", help="the event's data, a JSON object")
    parser.add_argument("--source", default=None, help="who publishes (default omero.mail.source)")
    parser.set_defaults(func=run, parser=parser)


def run(args) -> int:
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.schemas import InvalidEvent, new_event


    props = properties(args)
    try:
        event = new_event(args.type, args.data, source=args.source or props["omero.mail.source"])
    except InvalidEvent as exc:
        args.parser.error(f"invalid {args.type} event: {exc}")
    with Publisher(props["omero.mail.broker.url"]) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    print(f"published {event.type} {event.id}")
    return 0
