"""What stops the bridge with one line and exit 1: things only the admin can mend.

Outages (the database or RabbitMQ unreachable for a while) are waited out instead; these
are not outages: a state file that belongs elsewhere or cannot be written, a log the
bridge may not read, a database that is not OMERO's or that the bridge's role may not
read, a role, database or password that PostgreSQL does not know, and an eventlog that
went back below the bridge's place (a restored dump).
"""

from __future__ import annotations

#: What PostgreSQL answers a connection that no waiting will let in (libpq gives no SQLSTATE
#: for a refused connection, only the server's message).
REFUSALS = ("does not exist", "authentication failed", "no pg_hba.conf entry", "no password supplied",
            "is not permitted to log in", "permission denied for database")


class BridgeError(Exception):
    """The one line to print; the bridge exits 1."""


def refusal(message: str) -> str | None:
    """The server's reason when a failed connection is a setting to mend, else None."""
    if not any(words in message for words in REFUSALS):
        return None
    return message.rpartition("FATAL:")[2].strip()
