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
- an outbox message comes from the rules stage, or from the delivery stage's own retry
  tiers (which dead-letter back to the outbox with the delivery stage's ``user_id``).

``omero.mail.broker.check-publishers=false`` (the development default, guest) checks
nothing, and the consumer says so at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import unquote, urlsplit

from events.schemas import Event
# Parsed in one place with every typed property (events/settings.py checks it at start).
from events.values import name_pairs as acting_for

CHECK = "omero.mail.broker.check-publishers"
ACTS_FOR = "omero.mail.broadcast.users"


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

    @classmethod
    def from_properties(cls, props) -> "Trust":
        return cls(checked=props.bool(CHECK), rules_user=props["omero.mail.broker.rules-user"],
                   delivery_user=props["omero.mail.broker.delivery-user"], acts_for=props.typed(ACTS_FOR, acting_for))

    def may_broadcast_as(self, user: str | None, admin: str | None) -> bool:
        if not user or not admin:
            return False
        return admin == user or admin in self.acts_for.get(user, ())

    def refuses_event(self, event: Event, routing_key: str, user_id: str | None) -> str | None:
        """Why the rules stage must not plan this event, or None."""
        if not self.checked:
            return None
        if routing_key != event.type:
            return (f"an event of type {event.type!r} published with routing key {routing_key!r} "
                    f"(broker user {user_id!r}): the broker checked the key, not the type")
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
