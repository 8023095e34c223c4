"""``omero-mail senders``: load the active sender rules and list them (checks the XML).

A broken file (malformed XML, an unknown element or class, entity declarations, a query
that cannot be mapped) exits 1 with one line naming the file, the line and the reason; so
does a missing directory, or one with no active sender while ``omero.mail.config`` is true.
"""

from __future__ import annotations

from . import properties


def register(subparsers) -> None:
    parser = subparsers.add_parser("senders")
    parser.add_argument("--dir", help="senders directory (default omero.mail.senders.dir)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from senders.xmlconfig import NoSenders, active_senders, sender_files, senders_dir

    from . import CommandError

    props = properties(args)
    directory = senders_dir(args.dir or props["omero.mail.senders.dir"])
    try:
        senders = active_senders(directory, props, required=props.bool("omero.mail.config"))
    except NoSenders as exc:
        raise CommandError(str(exc)) from None
    files = sender_files(directory)
    if not props.bool("omero.mail.config"):
        print("note: omero.mail.config is false, so these senders send nothing")
    active = [s for s in senders if s.enabled]
    print(f"{len(active)} active sender(s) from {len(files)} file(s) in {directory}")
    rows = [("ID", "EVENT", "RECIPIENTS", "SUBJECT")]
    for sender in senders:
        rows.append((sender.id if sender.enabled else f"{sender.id} (enabled=false)", ", ".join(sender.event_types),
                     sender.describe_recipients(), sender.describe_subject()))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip())
    return 0
