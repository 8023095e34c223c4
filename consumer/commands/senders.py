"""``omero-mail senders``: load the active sender rules and list them (checks the XML)."""

from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("senders", help="list the active mail senders (and check their XML)")
    parser.add_argument("--dir", help="senders directory (default omero.mail.senders.dir)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from senders.xmlconfig import load_senders, sender_files

    from ..cli import properties

    props = properties(args)
    directory = args.dir or props["omero.mail.senders.dir"]
    files = sender_files(directory)
    senders = load_senders(directory)
    if not props.bool("omero.mail.config"):
        print("note: omero.mail.config is false, so these senders send nothing")
    print(f"{len(senders)} active sender(s) from {len(files)} file(s) in {directory}")
    rows = [("ID", "EVENT", "RECIPIENTS", "SUBJECT")]
    for sender in senders:
        rows.append((sender.id, ", ".join(sender.event_types), sender.describe_recipients(),
                     sender.subject_prefix + sender.subject_template()))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)).rstrip())
    return 0
