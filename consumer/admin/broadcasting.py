"""Queueing one admin broadcast: what ``omero-mail broadcast`` and the web app's Email page share.

Both take the same :class:`Request` (``omero admin email``'s arguments, plus Cc, Bcc, HTML and
From), check it the same way and publish it the same way, so the page and the command cannot
drift apart:

1. :func:`named`: the users and groups that exist, with OMERO's error line for each that does
   not (omero-py ``cli.py`` ``get_users_groups``): non-fatal, the rest is still sent;
2. :func:`check`: ``SendEmailRequestI.init``'s checks in its order (permissions, recipients,
   then the request itself), the body read only once the request is known to be acceptable
   (the command reads it from standard input), and the event's data built;
3. :func:`queue`: the broadcast's results queue declared, then its ``queued`` outcome and the
   event published with one confirm. A publish whose confirm never came may still be
   delivered: :class:`Uncertain` names the broadcast's ID, under which it may be queued again
   so that its emails keep their Message-IDs and nobody gets one twice.

The requester is whoever the caller says: the command's ``--as`` (checked against the broker
user), the web app's logged-in admin (never a form field), whom inside OMERO.web the event
proves with the admin's OMERO session (``events/session_proof.py``). The rules stage checks
again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from events.broker.errors import PublishError
from events.config import Properties
from events import values
from events.schemas import Event
from senders import broadcast
from senders.directory import Directory

#: omero-py admin.py ``email``: ``die(12, ...)`` for a "no-body" error with parameters
#: (no recipients, no body), ``die(13, "Failed to send emails:...")`` for every other one.
EXIT_NO_BODY, EXIT_FAILED = 12, 13
#: How many users or groups the ``queued`` outcome names before it counts the rest.
NAMED_AT_MOST = 10


@dataclass(frozen=True)
class Request:
    """One broadcast as asked for; IDs as given (text), so that a bad one is OMERO's error line."""

    subject: str
    #: The body, or how to read it once the request passed the checks that need no body.
    body: str | Callable[[], str]
    requested_by: str
    everyone: bool = False
    inactive: bool = False
    user_names: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    group_names: Sequence[str] = ()
    group_ids: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    html: bool = False
    mail_from: str | None = None
    #: Inside OMERO.web: the digest of the admin's OMERO session key (``events.session_proof``),
    #: which :func:`queue` ties to the event as its ``omero_session``, the rules stage's proof.
    session_proof: str | None = None


@dataclass
class Named:
    """The users and groups of a request that exist, and OMERO's lines about the rest."""

    known: dict[str, list] = field(default_factory=dict)
    #: "Unknown user: x", "Not a valid group ID: x", ..., then OMERO's warning for ``everyone``.
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Ready:
    """A checked broadcast: the event's data, whom it reaches in a few words, and the admin's session proof."""

    data: dict
    recipients: str
    session_proof: str | None = field(default=None, repr=False)


class Uncertain(Exception):
    """The broker never confirmed the publish: the broadcast may or may not be queued."""

    def __init__(self, event_id: str, cause: str):
        super().__init__(f"broadcast {event_id} may not be queued, or may still be delivered: {cause}")
        self.event_id = event_id

    def advice(self, again: str) -> str:
        """The message, with how to queue it again (``again``: the command with --id, the form once more)."""
        return (f"{self}. {again} queues it again under the same ID, so nobody gets an email twice")


def address_error(text: str) -> str | None:
    """Why ``text`` cannot be a Cc or Bcc address (the command's and the page's words), or None."""
    from senders.address import is_valid_recipient

    return None if is_valid_recipient(text.strip()) else f"not an email address: {text!r}"


def named(request: Request, directory: Directory) -> Named:
    """omero-py cli.py ``get_users_groups``: names, then IDs, users before groups, with
    ``find_user_by_id``'s "Not a valid user ID" for what is not a number."""
    result = Named({"user_names": [], "user_ids": [], "group_names": [], "group_ids": []})
    known, errors = result.known, result.lines
    lookups = (("user", directory.experimenter_by_name, directory.experimenter, request.user_names, request.user_ids),
               ("group", directory.group, directory.group, request.group_names, request.group_ids))
    for kind, by_name, by_id, names, ids in lookups:
        for name in names:
            if by_name(name):
                known[f"{kind}_names"].append(name)
            else:
                errors.append(f"Unknown {kind}: {name}")
        for text in ids:
            number = _int(text)
            if number is None:
                errors.append(f"Not a valid {kind} ID: {text}")
            elif by_id(number):
                known[f"{kind}_ids"].append(number)
            else:
                errors.append(f"Unknown {kind}: {number}")
    if request.everyone and any(known.values()):
        errors.append(broadcast.IGNORED)
    return result


def check(request: Request, found: Named, props: Properties, directory: Directory,
          acting_user: str | None) -> Ready:
    """SendEmailRequestI.init's checks in its order; BroadcastRefused with the reason, else the data.

    ``acting_user`` is the broker user that publishes, which must be allowed to broadcast as the
    requester when publishers are checked; None where another proof stands for the admin (the
    OMERO session's digest, from inside OMERO.web).
    """
    data = {
        "subject": request.subject.strip(), "everyone": request.everyone, "inactive": request.inactive,
        **({} if request.everyone else found.known), "cc": list(request.cc), "bcc": list(request.bcc),
        "requested_by": request.requested_by,
    }
    if request.mail_from:
        data["mail_from"] = request.mail_from
    allowed = [a.strip() for a in props["omero.mail.broadcast.from"].split(",") if a.strip()]
    if acting_user is not None:
        check_acting_for(props, acting_user, request.requested_by)
    broadcast.check_admin(request.requested_by, directory)
    if not broadcast.has_recipients(data):
        raise broadcast.BroadcastRefused(broadcast.NO_RECIPIENTS, broadcast.NO_RECIPIENTS_ERR)
    broadcast.check_request({**data, "body": "-"}, props["omero.mail.from"], allowed)
    body = request.body if isinstance(request.body, str) else request.body()
    data.update(body=broadcast.html_to_text(body) if request.html else body, html=body if request.html else None)
    broadcast.check_request(data, props["omero.mail.from"], allowed,
                            props.typed(broadcast.MAX_BYTES, values.whole))
    return Ready(data, describe_recipients(data, directory), request.session_proof)


def check_acting_for(props: Properties, acting_user: str, requested_by: str) -> None:
    """BroadcastRefused unless the broker user ``acting_user`` may broadcast as ``requested_by``."""
    from ..access.trust import ACTS_FOR, Trust

    trust = Trust.from_properties(props)
    if trust.checked and not trust.may_broadcast_as(acting_user, requested_by):
        raise broadcast.BroadcastRefused(f"broker user {acting_user!r} may not broadcast as {requested_by!r} "
                                         f"({ACTS_FOR})", broadcast.NO_PERMISSIONS)


def refusal(exc: broadcast.BroadcastRefused) -> tuple[int, list[str]]:
    """A refusal as OMERO's CLI reports it (admin.py ``email``): its exit code and lines, our reason
    after OMERO's text."""
    if exc.omero is None:
        return EXIT_FAILED, ["Failed to send emails:", str(exc)]
    name, text = exc.omero
    if name == "no-body":
        return EXIT_NO_BODY, [f"ApiUsageException:{text}"]
    return EXIT_FAILED, ["Failed to send emails:", f"ApiUsageException:{text} ({exc})"]


def describe_recipients(data: Mapping, directory: Directory) -> str:
    """Whom a broadcast's data names, in a few words: "everyone", or its users and groups with their IDs."""
    inactive = "; inactive users too" if data.get("inactive") else ""
    if data.get("everyone"):
        return "everyone" + inactive
    users = [_user(directory.experimenter_by_name(name), name) for name in data.get("user_names") or ()]
    users += [_user(directory.experimenter(user_id), user_id) for user_id in data.get("user_ids") or ()]
    groups = [_group(directory.group(name), name) for name in data.get("group_names") or ()]
    groups += [_group(directory.group(group_id), group_id) for group_id in data.get("group_ids") or ()]
    parts = [f"{kind} {_some(names)}" for kind, names in (("users", _unique(users)), ("groups", _unique(groups)))
             if names]
    return "; ".join(parts) + inactive


def _user(experimenter, given) -> str:
    return f"{experimenter.omename} (#{experimenter.id})" if experimenter else str(given)


def _group(group, given) -> str:
    return f"{group.name} (#{group.id})" if group else str(given)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _some(names: list[str]) -> str:
    if len(names) <= NAMED_AT_MOST:
        return ", ".join(names)
    return ", ".join(names[:NAMED_AT_MOST]) + f" and {len(names) - NAMED_AT_MOST} more"


def event_of(ready: Ready, props: Properties, event_id: str | None = None) -> Event:
    """The ``admin.broadcast`` event, with the admin's session proof tied to it when there is one."""
    from events.schemas import new_event
    from events.session_proof import with_session_proof

    event = new_event("admin.broadcast", ready.data, source=props["omero.mail.source"], event_id=event_id)
    return event if ready.session_proof is None else with_session_proof(event, ready.session_proof)


def queue(url: str, props: Properties, ready: Ready, event_id: str | None = None) -> str:
    """Publish the broadcast (its results queue declared first); its ID once RabbitMQ confirmed it.

    Uncertain if the confirm never came; a refusal or a lost broker is BrokerError.
    """
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.settings import read_settings

    from . import results

    event = event_of(ready, props, event_id)
    settings = read_settings(props)
    results.declare(url, topo.from_properties(props), event.id, settings.broadcast_results_expires_ms)
    queued = results.queued(event.id, subject=ready.data["subject"], requested_by=ready.data["requested_by"],
                            recipients=ready.recipients, cc=len(ready.data["cc"]), bcc=len(ready.data["bcc"]))
    try:
        with Publisher(url, timeout=settings.broadcast_timeout) as publisher:
            publisher.publish_many([queued, Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id)])
    except PublishError as exc:
        raise Uncertain(event.id, str(exc)) from None
    return event.id


def _int(text) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None
