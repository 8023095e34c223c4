"""What stops the bridge with one line and exit 1: things only the admin can mend.

Outages (the database or RabbitMQ unreachable for a while) are waited out instead; these
are not outages: a state file that belongs elsewhere or cannot be written, a log the
bridge may not read, a database that is not OMERO's or that the bridge's role may not read.
"""

from __future__ import annotations


class BridgeError(Exception):
    """The one line to print; the bridge exits 1."""
