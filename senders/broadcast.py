"""An admin broadcast (``omero admin email``): whom it reaches, and its emails.

Pure functions over the directory, shared by ``omero-mail broadcast`` (which checks and
reports before publishing) and the rules stage (which checks again and plans), so both
apply OMERO's semantics (README, "Admin broadcast") the same way:

- only members of ``system`` may broadcast;
- ``everyone`` means every active user (member of ``user``), or every user with
  ``inactive``; it ignores the users and groups named;
- otherwise the named users and the members of the named groups, inactive ones left
  out unless ``inactive``; an unknown user or group is an error line, the rest is sent;
- one email per address, only exactly equal addresses counted once (OMERO's HashSet);
  users without an email, or with an invalid one, are counted rather than sent to
  ("N users had no email address"); invalid Cc and Bcc addresses are counted as OMERO
  counts its invalid extra addresses ("N email addresses were invalid").

Cc and Bcc, which OMERO gets wrong (it writes Bcc as Cc and copies every user's mail to
them), get one copy in all rather than one per user: a single mail to the Cc addresses
(all of them visible in To/Cc, as Cc means) and one mail to each Bcc address, named only
in its own envelope and To, so no Bcc address ever appears in a header another
recipient sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import AbstractSet, Callable, Iterable, Mapping, Sequence

from events.schemas import Event

from .directory import Directory, Experimenter, active_users
from .mail import Mail, message_id
from .address import is_valid_recipient
from .plan import Plan, PlanRefused, addresses, domain_of

SENDER_ID = "adminBroadcast"
CC_SENDER_ID = "adminBroadcast.cc"
BCC_SENDER_ID = "adminBroadcast.bcc"

NO_RECIPIENTS = "No recipients specified."
IGNORED = "Warning: users and groups ignored"


#: OMERO's texts for the same refusals (``SendEmailRequestI.init``), by its error name.
NO_PERMISSIONS = ("no-permissions", "You have no permissions to send email.")
NO_SENDER = ("no-sender", "omero.mail.from cannot be empty.")
NO_SUBJECT = ("no-subject", "Email must contain subject.")
NO_BODY = ("no-body", "Email must contain body.")
NO_RECIPIENTS_ERR = ("no-body", NO_RECIPIENTS)


class BroadcastRefused(PlanRefused):
    """A broadcast that must not go out; ``str()`` is the one-line reason.

    ``omero`` is OMERO's (error name, text) for the same refusal, when it has one.
    """

    def __init__(self, reason: str, omero: tuple[str, str] | None = None):
        super().__init__(reason)
        self.omero = omero


@dataclass
class Recipients:
    """The experimenters a broadcast reaches, and OMERO's error lines for the rest."""

    experimenters: list[Experimenter] = field(default_factory=list)
    #: "Unknown user: x" / "Unknown group: x", one per name or id not found.
    errors: list[str] = field(default_factory=list)
    #: OMERO's warning when ``everyone`` was given with users or groups.
    warnings: list[str] = field(default_factory=list)


def check_admin(name: str | None, directory: Directory) -> Experimenter:
    """The requesting experimenter, if a member of ``system``; else BroadcastRefused."""
    if not name:
        raise BroadcastRefused("no requesting user (requested_by): only admins may broadcast", NO_PERMISSIONS)
    experimenter = directory.experimenter_by_name(name)
    if experimenter is None:
        raise BroadcastRefused(f"unknown requesting user {name!r}: only admins may broadcast", NO_PERMISSIONS)
    if not experimenter.admin:
        raise BroadcastRefused(f"{name!r} is not a member of system: only admins may broadcast", NO_PERMISSIONS)
    return experimenter


def has_recipients(data: Mapping) -> bool:
    return bool(data.get("everyone") or data.get("user_ids") or data.get("user_names")
                or data.get("group_ids") or data.get("group_names"))


def resolve(data: Mapping, directory: Directory) -> Recipients:
    """The experimenters ``data`` (an admin.broadcast event's data) names, in order."""
    result = Recipients()
    inactive = bool(data.get("inactive"))
    if data.get("everyone"):
        if any(data.get(k) for k in ("user_ids", "user_names", "group_ids", "group_names")):
            result.warnings.append(IGNORED)
        result.experimenters = directory.experimenters() if inactive else active_users(directory)
        return result
    found: list[Experimenter] = []
    for name in data.get("user_names") or ():
        experimenter = directory.experimenter_by_name(name)
        _found_or_error(experimenter, f"Unknown user: {name}", found, result.errors)
    for user_id in data.get("user_ids") or ():
        experimenter = directory.experimenter(int(user_id))
        _found_or_error(experimenter, f"Unknown user: {user_id}", found, result.errors)
    for group in [*(data.get("group_names") or ()), *(int(g) for g in data.get("group_ids") or ())]:
        if directory.group(group) is None:
            result.errors.append(f"Unknown group: {group}")
            continue
        found.extend(directory.members(group))
    seen: set[int] = set()
    for experimenter in found:
        if experimenter.id in seen or not (inactive or experimenter.active):
            continue
        seen.add(experimenter.id)
        result.experimenters.append(experimenter)
    return result


def _found_or_error(experimenter, error: str, found: list, errors: list) -> None:
    if experimenter is None:
        errors.append(error)
    else:
        found.append(experimenter)


def _unique(values: Iterable[str], exclude: AbstractSet[str] = frozenset()) -> list[str]:
    """Each value once, exactly equal ones together, as OMERO's HashSet keeps them."""
    seen = set(exclude)
    kept = []
    for value in values:
        value = value.strip()
        if value and value not in seen:
            seen.add(value)
            kept.append(value)
    return kept


#: The property that bounds a broadcast's message: every recipient's email carries it through RabbitMQ.
MAX_BYTES = "omero.mail.broadcast.max-bytes"


def check_request(data: Mapping, mail_from: str, allowed_from: Sequence[str], max_bytes: int = 0) -> str:
    """OMERO's checks on the request itself, in its order (sender, subject, body), then ours on the
    message's size (``max_bytes``, 0: none); returns the From."""
    override = str(data.get("mail_from") or "").strip()
    if override:
        if override.lower() not in {a.lower() for a in allowed_from}:
            raise BroadcastRefused(f"--from {override!r} is not allowed (omero.mail.broadcast.from lists "
                                   "the allowed addresses)")
        mail_from = override
    if not mail_from.strip():
        raise BroadcastRefused("omero.mail.from is empty: there is no From address", NO_SENDER)
    if not str(data.get("subject") or "").strip():
        raise BroadcastRefused("the subject is empty", NO_SUBJECT)
    if not str(data.get("body") or "").strip() and not str(data.get("html") or "").strip():
        raise BroadcastRefused("the body is empty", NO_BODY)
    size = sum(len(str(data.get(key) or "").encode("utf-8")) for key in ("body", "html"))
    if max_bytes and size > max_bytes:
        raise BroadcastRefused(f"the message is {size:,} bytes, and {MAX_BYTES} allows {max_bytes:,}: each "
                               "recipient's email carries it through RabbitMQ")
    return mail_from


def plan_broadcast(event: Event, directory: Directory, mail_from: str, allowed_from: Sequence[str] = (),
                   max_bytes: int = 0) -> Plan:
    """One Mail per address reached, one copy for Cc, one per Bcc; BroadcastRefused if not allowed."""
    data = event.data
    check_admin(data.get("requested_by"), directory)
    mail_from = check_request(data, mail_from, allowed_from, max_bytes)
    recipients = resolve(data, directory)
    found = addresses(e.email for e in recipients.experimenters)
    cc = _unique(data.get("cc") or ())
    bcc = _unique(data.get("bcc") or (), set(cc))
    result = Plan(no_email=found.no_email, senders=[SENDER_ID])
    # SendEmailRequestI.parseExtraRecipients: an extra address that fails validation is an invalid email.
    result.invalid = sum(1 for a in (*cc, *bcc) if not is_valid_recipient(a))
    cc = [a for a in cc if is_valid_recipient(a)]
    bcc = [a for a in bcc if is_valid_recipient(a)]
    subject = str(data["subject"]).strip()
    text = str(data.get("body") or "")
    html = data.get("html") or None
    domain = domain_of(mail_from)

    def mail(sender: str, to: str, copies: tuple[str, ...] = ()) -> Mail:
        return Mail(message_id=message_id(event.id, sender, to, domain), event_id=event.id,
                    event_type=event.type, sender=sender, mail_from=mail_from, to=to,
                    subject=subject, text=text, html=html, cc=copies)

    result.mails = [mail(SENDER_ID, address) for address in found.valid]
    if cc:
        result.mails.append(mail(CC_SENDER_ID, cc[0], tuple(cc[1:])))
    result.mails.extend(mail(BCC_SENDER_ID, address) for address in bcc)
    return result


def planner(props: Mapping[str, str], directory: Callable[[], Directory]) -> Callable[[Event], Plan]:
    """The rules stage's planner for ``admin.broadcast`` events."""
    allowed = [a.strip() for a in props.get("omero.mail.broadcast.from", "").split(",") if a.strip()]
    mail_from = props["omero.mail.from"]
    max_bytes = int(props.get(MAX_BYTES) or 0)  # checked at start (events/settings.py)
    return lambda event: plan_broadcast(event, directory(), mail_from, allowed, max_bytes)


class _TextOfHTML(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The plain-text part of an HTML body: tags dropped, blocks on their own lines."""
    parser = _TextOfHTML()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
