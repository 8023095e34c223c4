"""Who may publish what: the checks the stages make on the broker user behind a message.

RabbitMQ's permissions and topic permissions (``consumer/access/roles.py``) decide what each
broker user may publish where, and RabbitMQ refuses a message whose AMQP ``user_id`` is
not its connection's user, so ``user_id`` is the one thing about a message's author a
stage can trust. What the broker cannot know is left to the stages:

- an event's type is its routing key (the topic permission was checked on the key, but
  the rules follow the body);
- an ``admin.broadcast`` comes from a broker user allowed to broadcast as its
  ``requested_by``: by default only the broker user of the same name as the OMERO admin,
  ``omero.mail.broadcast.users`` maps other names (``ops:root,ops:jane``);
- an ``admin.broadcast`` from the OMERO.web app's broker user (``omero.mail.broker.webapp-user``),
  which publishes for whichever admin is logged in, is trusted only with the proof of a session
  of its ``requested_by`` live when it was made (``events/session_proof.py``), found in OMERO's
  own ``session`` table by the rules stage's checker (``consumer/access/sessions.py``);
- an outbox message comes from the rules stage, or from the delivery stage's own retry
  tiers (which dead-letter back to the outbox with the delivery stage's ``user_id``).

``omero.mail.broker.check-publishers=false`` (the development default, guest) checks
nothing, and the consumer says so at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Mapping
from urllib.parse import unquote, urlsplit

from events.schemas import Event
from events.session_proof import FIELD as PROOF, content_digest, is_digest
# Parsed in one place with every typed property (events/settings.py checks it at start).
from events.values import name_pairs as acting_for

CHECK = "omero.mail.broker.check-publishers"
ACTS_FOR = "omero.mail.broadcast.users"
WEBAPP_USER = "omero.mail.broker.webapp-user"

#: Whether a session of the admin (omeName), with this proof of this event's content digest,
#: was live at that moment; raises :class:`SessionsUnavailable` when it cannot tell.
SessionCheck = Callable[[str, str, str, datetime], bool]


class SessionsUnavailable(Exception):
    """OMERO's sessions could not be read: the event goes back to its queue, neither trusted nor refused."""


def broker_user(url: str) -> str:
    """The user a broker URL logs in as (RabbitMQ's default, guest, when it names none)."""
    first = url.split(",")[0].strip()
    return unquote(urlsplit(first).username or "guest")


@dataclass(frozen=True)
class Trust:
    """What the stages accept, by the publishing broker user; ``checked=False`` accepts all."""

    checked: bool = False
    rules_user: str = ""
    delivery_user: str = ""
    acts_for: Mapping[str, frozenset[str]] = field(default_factory=dict)
    webapp_user: str = ""

    @classmethod
    def from_properties(cls, props) -> "Trust":
        return cls(checked=props.bool(CHECK), rules_user=props["omero.mail.broker.rules-user"],
                   delivery_user=props["omero.mail.broker.delivery-user"], acts_for=props.typed(ACTS_FOR, acting_for),
                   webapp_user=props[WEBAPP_USER].strip())

    def may_broadcast_as(self, user: str | None, admin: str | None) -> bool:
        if not user or not admin:
            return False
        return admin == user or admin in self.acts_for.get(user, ())

    def refuses_event(self, event: Event, routing_key: str, user_id: str | None,
                      sessions: SessionCheck | None = None) -> str | None:
        """Why the rules stage must not plan this event, or None. ``sessions`` finds the web app's
        proofs in OMERO's database (None: there is none to look in); it may raise SessionsUnavailable."""
        if not self.checked:
            return None
        if routing_key != event.type:
            return (f"an event of type {event.type!r} published with routing key {routing_key!r} "
                    f"(broker user {user_id!r}): the broker checked the key, not the type")
        if event.type == "admin.broadcast" and self.webapp_user and user_id == self.webapp_user:
            return refuses_webapp_broadcast(event, user_id, sessions)
        if event.type == "admin.broadcast":
            requested_by = event.data.get("requested_by")
            if not self.may_broadcast_as(user_id, requested_by):
                return f"broker user {user_id!r} may not broadcast as {requested_by!r} ({ACTS_FOR})"
        return None

    def refuses_outbox(self, user_id: str | None) -> str | None:
        """Why the delivery stage must not send this outbox message, or None."""
        if not self.checked or (user_id and user_id in (self.rules_user, self.delivery_user)):
            return None
        return (f"published by broker user {user_id!r}, not by the rules stage "
                f"({self.rules_user!r}): never sent")

    def refuses_to_run(self, stage: str, user: str) -> str | None:
        """Why a stage connecting as ``user`` would refuse its own mail, or None."""
        expected = {"rules": self.rules_user, "delivery": self.delivery_user}[stage]
        if self.checked and user != expected:
            key = f"omero.mail.broker.{stage}-user"
            return (f"the {stage} stage connects to RabbitMQ as {user!r}, but {key} is {expected!r}: "
                    "the delivery stage would refuse its mail (set the URL's user or the property)")
        return None


def refuses_webapp_broadcast(event: Event, user_id: str, sessions: SessionCheck | None) -> str | None:
    """Why a broadcast of the web app's broker user must not be planned, or None.

    That user publishes for every admin, so it may broadcast as ``requested_by`` only with the
    proof of a session of theirs live at ``occurred_at`` (``omero.mail.broadcast.users`` does
    not widen it); whether ``requested_by`` is an admin at all is the planner's check, as for
    every broadcast.
    """
    admin = event.data.get("requested_by")
    who = f"broker user {user_id!r} (the web app, {WEBAPP_USER})"
    if not admin:
        return f"{who}: no requesting user (requested_by)"
    if not is_digest(event.data.get(PROOF)):
        return f"{who} may broadcast as {admin!r} only with the proof of their OMERO session ({PROOF}), and sent none"
    if sessions is None:
        return (f"{who} may broadcast as {admin!r} only with a session proof checked in OMERO's database, and this "
                "rules stage reads none (omero.mail.directory.backend=postgres, omero.db.*)")
    if not sessions(admin, event.data[PROOF], content_digest(event), event.occurred_at):
        return (f"{who} may broadcast as {admin!r} only from a session of theirs live at "
                f"{event.occurred_at.isoformat()}, and {PROOF} proves none")
    return None
