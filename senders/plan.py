"""Fan an event out into emails: the rules stage's pure core.

``plan(event, senders, directory, mail_from)`` applies every sender that answers the
event, resolves its recipients, and returns one :class:`~senders.mail.Mail` per address
(de-duplicated per sender), with counts of the users skipped for having no email or an
invalid one, which OMERO's admin email reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Iterable

from events.schemas import Event

from .directory import Directory
from .mail import Mail, message_id
from .message import is_valid_address
from .rules import MailSender


@dataclass
class Plan:
    mails: list[Mail] = field(default_factory=list)
    no_email: int = 0
    invalid: int = 0
    senders: list[str] = field(default_factory=list)


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
        seen: set[str] = set()
        for experimenter in sender.recipients(event, directory):
            address = (experimenter.email or "").strip()
            if not address:
                result.no_email += 1
                continue
            if not is_valid_address(address):
                result.invalid += 1
                continue
            if address.lower() in seen:
                continue
            seen.add(address.lower())
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
