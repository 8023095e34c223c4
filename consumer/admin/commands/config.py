"""``omero-mail config get|set|list``: the effective properties, passwords hidden.

``list`` and ``get`` check every typed property first, as every command does at start,
so a bad value is the same one line here. ``set`` writes a ``key=value`` line into the file
given with ``--config`` (the last one), as ``bin/omero config set`` writes OMERO's
config.xml; a key omero-mail does not read is refused, with the nearest one it does,
unless ``--force``.
"""

from __future__ import annotations

from pathlib import Path

from events.config import is_known, nearest_known

from . import CommandError, properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("config")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every effective property and where it comes from")
    listing.add_argument("--origin", action="store_true", help="show where each value was set")
    listing.set_defaults(func=run_list)
    get = actions.add_parser("get", help="one property's effective value")
    get.add_argument("key")
    get.set_defaults(func=run_get)
    setter = actions.add_parser("set", help="write KEY=VALUE into the --config file")
    setter.add_argument("key")
    setter.add_argument("value")
    setter.add_argument("--force", action="store_true", help="write a key omero-mail does not know (a site's own)")
    setter.set_defaults(func=run_set)


def run_list(args) -> int:
    props = properties(args)
    for key in props:
        line = f"{key}={props.shown(key)}"
        print(f"{line}    # {props.origin(key)}" if args.origin else line)
    return 0


def run_get(args) -> int:
    props = properties(args)
    if args.key not in props:
        raise CommandError(f"no property {args.key!r}")
    print(props.shown(args.key))
    return 0


def run_set(args) -> int:
    if not args.config:
        raise CommandError("config set needs --config FILE (the properties file to write)")
    path = Path(args.config[-1])
    if "\n" in args.value or "\r" in args.value or "=" in args.key:
        raise CommandError("keys cannot contain '=' and values cannot contain line breaks")
    if not (args.force or is_known(args.key)):
        nearest = nearest_known(args.key)
        raise CommandError(f"unknown property {args.key!r}" + (f"; did you mean {nearest}?" if nearest else "")
                           + " (--force writes it anyway)")
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    prefix = args.key + "="
    kept = [line for line in lines if not line.strip().startswith(prefix)]
    kept.append(f"{args.key}={args.value}")
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return 0
