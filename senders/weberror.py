"""The OMERO.web error report: a ``web.error`` event mailed to ``omero.web.admins``.

What Django's AdminEmailHandler (HTTP 500) and BrokenLinkEmailsMiddleware (404 with a
Referer) would have mailed from the web process (README, "OMERO.web error reports"), now
planned here:
the same subjects, after OMERO.web's prefix ``omero.web.admins.email_subject_prefix``,
one email per admin address. A storm of identical errors is folded before it gets here,
by the rules stage's flood guard.
"""

from __future__ import annotations

import json
from typing import Callable, Mapping
from urllib.parse import urlsplit

from events.schemas import Event

from .mail import Mail, message_id
from .plan import Plan, addresses, domain_of
from .xmlconfig import SenderConfigError

SENDER_ID = "webErrorMailSender"
DEFAULT_PREFIX = "[OMERO.web - admin notification]"
ADMINS = "omero.web.admins"


def parse_admins(text: str) -> list[tuple[str, str]]:
    """``omero.web.admins`` as OMERO.web reads it: ``[["Name", "email"], ...]``."""
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise SenderConfigError(ADMINS, None, None, f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(value, list) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            for pair in value):
        raise SenderConfigError(ADMINS, None, None, 'must be a JSON list of ["name", "email"] pairs')
    return [(name, email.strip()) for name, email in value]


def subject(data: Mapping, prefix: str = DEFAULT_PREFIX) -> str:
    """Django's subjects: ``ERROR (EXTERNAL IP): Internal Server Error: /path``, ``Broken link on host``."""
    if data["status"] == 404:
        host = urlsplit(data.get("url") or "").netloc or "OMERO.web"
        text = f"Broken {'INTERNAL ' if data.get('internal') else ''}link on {host}"
    else:
        where = "internal" if data.get("internal") else "EXTERNAL"
        text = f"ERROR ({where} IP): Internal Server Error: {data['path']}"
    return f"{prefix} {text}" if prefix and not prefix[-1].isspace() else f"{prefix}{text}"


def body(data: Mapping) -> str:
    if data["status"] == 404:
        return (f"Referrer: {data.get('referer') or ''}\n"
                f"Requested URL: {data.get('url') or data['path']}\n"
                f"User agent: {data.get('user_agent') or '<none>'}\n"
                f"IP address: {data.get('remote_addr') or '<none>'}\n")
    sections = [f"Internal Server Error: {data['path']}"]
    if data.get("exception"):
        sections.append(f"Exception: {data['exception']}")
    if data.get("traceback"):
        sections.append(data["traceback"].rstrip("\n"))
    if data.get("request"):
        sections.append("Request:\n" + data["request"].rstrip("\n"))
    return "\n\n".join(sections) + "\n"


def plan_web_error(event: Event, admins: list[tuple[str, str]], prefix: str, mail_from: str) -> Plan:
    found = addresses(address for _name, address in admins)
    result = Plan(no_email=found.no_email, senders=[SENDER_ID])
    text, title = body(event.data), subject(event.data, prefix)
    domain = domain_of(mail_from)
    result.mails = [
        Mail(message_id=message_id(event.id, SENDER_ID, address, domain), event_id=event.id,
             event_type=event.type, sender=SENDER_ID, mail_from=mail_from, to=address, subject=title, text=text)
        for address in found.valid
    ]
    return result


def planner(props: Mapping[str, str]) -> Callable[[Event], Plan]:
    """The rules stage's planner for ``web.error`` events; SenderConfigError on a bad property."""
    admins = parse_admins(props.get(ADMINS, "[]"))
    prefix = props.get("omero.web.admins.email_subject_prefix", DEFAULT_PREFIX)
    mail_from = props["omero.mail.from"]
    return lambda event: plan_web_error(event, admins, prefix, mail_from)
