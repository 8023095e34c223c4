"""``omero-mail senders``: load the active sender rules and list them (checks the XML).

A broken file (malformed XML, an unknown element or class, entity declarations, a query
that cannot be mapped) exits 1 with one line naming the file, the line and the reason; so
does a missing directory, or one with no active sender while ``omero.mail.config`` is true.
The web app's Senders page shows the same :func:`listing`, or the same line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import properties


@dataclass(frozen=True)
class Row:
    """One sender as the listing shows it."""

    id: str
    enabled: bool
    events: str
    recipients: str
    subject: str


@dataclass(frozen=True)
class Listing:
    directory: Path
    files: int
    rows: list[Row]
    #: ``omero.mail.config``: false means these senders send nothing.
    mail_config: bool

    @property
    def active(self) -> int:
        return sum(1 for row in self.rows if row.enabled)


def listing(props, directory: str | None = None) -> Listing:
    """The senders the consumer would load from ``directory`` (default ``omero.mail.senders.dir``).

    A broken file, a missing directory or no active sender where one is needed raises the
    one-line error the consumer stops with (``SenderConfigError``, ``CommandError``).
    """
    from senders.xmlconfig import NoSenders, active_senders, sender_files, senders_dir

    from . import CommandError

    where = senders_dir(directory or props["omero.mail.senders.dir"])
    mail_config = props.bool("omero.mail.config")
    try:
        senders = active_senders(where, props, required=mail_config)
    except NoSenders as exc:
        raise CommandError(str(exc)) from None
    rows = [Row(s.id, s.enabled, ", ".join(s.event_types), s.describe_recipients(), s.describe_subject())
            for s in senders]
    return Listing(where, len(sender_files(where)), rows, mail_config)


def register(subparsers) -> None:
    parser = subparsers.add_parser("senders")
    parser.add_argument("--dir", help="senders directory (default omero.mail.senders.dir)")
    parser.set_defaults(func=run)


def run(args) -> int:
    found = listing(properties(args), args.dir)
    if not found.mail_config:
        print("note: omero.mail.config is false, so these senders send nothing")
    print(f"{found.active} active sender(s) from {found.files} file(s) in {found.directory}")
    rows = [("ID", "EVENT", "RECIPIENTS", "SUBJECT")]
    for row in found.rows:
        rows.append((row.id if row.enabled else f"{row.id} (enabled=false)", row.events, row.recipients, row.subject))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for cells in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(cells)).rstrip())
    return 0
