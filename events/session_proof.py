"""The proof that an ``admin.broadcast`` was made in an OMERO admin's own OMERO.web session.

The OMERO.web app publishes the broadcasts of every admin with one broker user of its own
(``omero.mail.broker.webapp-user``), so RabbitMQ's ``user_id`` says only "the web app", not
which admin. So the app proves the admin in two steps:

- for the request, :func:`session_proof`: the SHA-256 (hex) of the logged-in admin's OMERO
  session key (the session's UUID). The key itself goes no further;
- on the event it publishes, :func:`with_session_proof`: the data field ``omero_session``,
  the SHA-256 (hex) of that digest, a colon and the digest of the event itself.

The rules stage computes the same from each session of ``requested_by`` in OMERO's own
``session`` table (``consumer/access/sessions.py``) and trusts the broadcast only when one
matches and was live when the event was made (``consumer/access/trust.py``).

Why the event is in the field and not the key's digest alone: events are kept in queues and
parking lots, and the app's own pages show a parked event whole. The key's digest, read
there, would prove any broadcast as that admin at any moment the session was open (an
event's ``occurred_at`` is its publisher's to write); tied to the event (its id, time,
recipients, text), the field vouches for that event and no other.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace

from .schemas import Event

#: The field of an ``admin.broadcast``'s data that holds the proof.
FIELD = "omero_session"

_DIGEST = re.compile(r"[0-9a-f]{64}")


def session_proof(session_key: str) -> str:
    """SHA-256 (hex) of an OMERO session key: what the app holds for the admin it serves."""
    if not session_key:
        raise ValueError("no OMERO session key to prove the admin with")
    return hashlib.sha256(session_key.encode("utf-8")).hexdigest()


def content_digest(event: Event) -> str:
    """SHA-256 (hex) of the event as published, its proof left out: JSON with sorted keys, ASCII only,
    so the publisher and the rules stage, each with its own copy, compute the same."""
    body = event.to_dict()
    body["data"] = {key: value for key, value in event.data.items() if key != FIELD}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def event_proof(proof: str, event: Event) -> str:
    """SHA-256 (hex) of ``<session proof>:<content digest>``: what the rules stage computes in SQL."""
    if not is_digest(proof):
        raise ValueError("not a session proof (the SHA-256 of an OMERO session key, in hex)")
    return hashlib.sha256(f"{proof}:{content_digest(event)}".encode("ascii")).hexdigest()


def with_session_proof(event: Event, proof: str) -> Event:
    """``event`` as the app publishes it, with ``proof`` (:func:`session_proof`) tied to it."""
    return replace(event, data={**event.data, FIELD: event_proof(proof, event)})


def is_digest(value: object) -> bool:
    """Whether ``value`` has the form of a SHA-256 in hex (64 lower-case hex digits)."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None
