"""Fan an event out into emails: the rules stage's pure core.

``plan(event, senders, directory, mail_from)`` applies every sender that answers the
event, resolves its recipients, and returns one :class:`~senders.mail.Mail` per address
(de-duplicated per sender), with the count of users skipped for having no email or an
invalid one, which OMERO's admin email reports as "N users had no email address".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Iterable

from events.schemas import Event

from .directory import Directory
from .mail import Mail, message_id
from .address import is_valid_recipient
from .rules import MailSender


class PlanRefused(Exception):
    """An event that must not be mailed, for a reason that is the sender's input, not a bug;
    ``str()`` is the one-line reason (the event is parked with it)."""


@dataclass
class Plan:
    mails: list[Mail] = field(default_factory=list)
    #: Users with no email address or an invalid one (OMERO's ``invalidusers``).
    no_email: int = 0
    #: Extra addresses (Cc, Bcc) that are invalid (OMERO's ``invalidemails`` before sending).
    invalid: int = 0
    senders: list[str] = field(default_factory=list)


@dataclass
class Addresses:
    valid: list[str] = field(default_factory=list)
    no_email: int = 0


def addresses(candidates: Iterable[str | None]) -> Addresses:
    """Each address once, the missing and the invalid counted together, as OMERO does.

    ``SendEmailRequestI.parseRecipients``: an experimenter whose email is null or fails
    ``MailUtil.validateEmail`` goes to ``invalidusers``; the rest go in a ``HashSet``, so
    only exactly equal addresses are one.
    """
    result = Addresses()
    seen: set[str] = set()
    for candidate in candidates:
        address = (candidate or "").strip()
        if not address or not is_valid_recipient(address):
            result.no_email += 1
        elif address not in seen:
            seen.add(address)
            result.valid.append(address)
    return result


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def plan(event: Event, senders: Iterable[MailSender], directory: Directory, mail_from: str) -> Plan:
    result = Plan()
    domain = domain_of(mail_from)
    for sender in senders:
        if not sender.applies_to(event):
            continue
        result.senders.append(sender.id)
        subject = sender.subject(event)
        body = sender.body(event)
        found = addresses(e.email for e in sender.recipients(event, directory))
        result.no_email += found.no_email
        for address in found.valid:
            result.mails.append(Mail(
                message_id=message_id(event.id, sender.id, address, domain),
                event_id=event.id,
                event_type=event.type,
                sender=sender.id,
                mail_from=mail_from,
                to=address,
                subject=subject,
                text=body,
            ))
    return result
