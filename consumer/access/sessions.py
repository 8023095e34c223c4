"""Whether an OMERO admin had a live session when their broadcast was made: OMERO's ``session`` table.

The rules stage's checker for the OMERO.web app's broadcasts (``consumer/access/trust.py``).
One read-only query over the sessions of the admin named, found by OMERO's index on
``session.owner``: PostgreSQL computes each one's proof from its UUID, as
``events/session_proof.py`` does (``sha256``: PostgreSQL 11 or later), so no session key is
ever read out of OMERO's database and no other admin's sessions are looked at. The session
must have been started at or before the event's ``occurred_at`` and not closed, nor past its
time to live (``timetolive``, in ms; 0 is none), before it: an admin who logs out once the
broadcast is queued does not cancel it. :data:`CLOCK_SKEW` allows for OMERO.web's clock and
OMERO's disagreeing. Like the bridge, it reads OMERO's timestamps (without time zone) in the
database session's time zone.

It reads the directory's database (``omero.mail.directory.*``, else OMERO's ``omero.db.*``):
a role with SELECT on ``experimenter`` and ``session``. Without a PostgreSQL directory there
is no checker, and the web app's broadcasts are refused. A database error is no answer
(:class:`~consumer.access.trust.SessionsUnavailable`), never the password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from events.omerodb import connect, describe, reason
from events.settings import DirectorySettings

from .trust import SessionsUnavailable

#: How far OMERO.web's clock (which stamps ``occurred_at``) may be from OMERO's (which stamps the session).
CLOCK_SKEW = timedelta(minutes=5)

LIVE_SESSION = """
    select 1
      from session s
     where s.owner = (select e.id from experimenter e where e.omename = %(admin)s)
       and encode(sha256(convert_to(encode(sha256(convert_to(s.uuid, 'UTF8')), 'hex') || ':' || %(content)s,
                                    'UTF8')), 'hex') = %(proof)s
       and s.started <= %(at)s::timestamptz + %(skew)s
       and (s.closed is null or s.closed >= %(at)s::timestamptz - %(skew)s)
       and (s.timetolive <= 0
            or s.started + s.timetolive * interval '1 millisecond' >= %(at)s::timestamptz - %(skew)s)
     limit 1
"""


class OmeroSessions:
    """A :data:`~consumer.access.trust.SessionCheck` on OMERO's database; a connection per check
    (a broadcast is rare, and no connection is then held open between them)."""

    def __init__(self, dsn: str):
        self.dsn = dsn

    def __call__(self, admin: str, proof: str, content: str, at: datetime) -> bool:
        try:
            with connect(self.dsn, application_name="omero-mail sessions") as conn:
                found = conn.execute(LIVE_SESSION, {"admin": admin, "proof": proof, "content": content, "at": at,
                                                    "skew": CLOCK_SKEW}).fetchone()
        except psycopg.Error as exc:
            raise SessionsUnavailable(f"cannot read OMERO's sessions from {describe(self.dsn)}: "
                                      f"{reason(exc, self.dsn)}") from None
        return found is not None

    def __str__(self) -> str:
        return f"OMERO's sessions in {describe(self.dsn)}"


def omero_sessions(directory: DirectorySettings) -> OmeroSessions | None:
    """The checker on the directory's database; None when the directory is not OMERO's database."""
    return OmeroSessions(directory.dsn) if directory.backend == "postgres" and directory.dsn else None
