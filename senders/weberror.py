"""The OMERO.web error report: a ``web.error`` event mailed to ``omero.web.admins``.

What Django's AdminEmailHandler (HTTP 500) and BrokenLinkEmailsMiddleware (404 with a
Referer) would have mailed from the web process (README, "OMERO.web error reports"), now planned here as
Django's ``mail_admins`` sends it: one email addressed to all the admins, its subject
OMERO.web's prefix ``omero.web.admins.email_subject_prefix`` and Django's subject with
nothing between them. The OMERO.web hooks (``events/web``) publish Django's own subject
and body; an event without them (``omero-mail publish``) gets a subject and body built
from its fields. A storm of identical errors is folded before it gets here, by the rules
stage's flood guard.
"""

from __future__ import annotations

import json
from typing import Callable, Mapping
from urllib.parse import urlsplit

from events.schemas import Event

from .mail import Mail, message_id, recipient_list
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
    # django/core/mail/__init__.py:131 (mail_admins; mail_managers alike): "%s%s" % (EMAIL_SUBJECT_PREFIX, subject).
    return f"{prefix}{data.get('subject') or _django_subject(data)}"


def _django_subject(data: Mapping) -> str:
    """django/utils/log.py:104 (AdminEmailHandler.emit) and django/middleware/common.py:130."""
    if data["status"] == 404:
        host = urlsplit(data.get("url") or "").netloc or "OMERO.web"
        return f"Broken {'INTERNAL ' if data.get('internal') else ''}link on {host}"
    where = "internal" if data.get("internal") else "EXTERNAL"
    return f"ERROR ({where} IP): Internal Server Error: {data['path']}"


def body(data: Mapping) -> str:
    """The body the hooks published; for an event without one, Django's broken-link lines or,
    for a 500, the log message, the exception, and the traceback and request if given."""
    if data.get("body"):
        return data["body"]
    if data["status"] == 404:
        # django/middleware/common.py:139: the requested path, not the URL.
        return (f"Referrer: {data.get('referer') or ''}\n"
                f"Requested URL: {data['path']}\n"
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
    """One mail to every valid admin address, as ``mail_admins`` sends it (django/core/mail/__init__.py:130-139)."""
    found = addresses(address for _name, address in admins)
    result = Plan(no_email=found.no_email, senders=[SENDER_ID])
    if not found.valid:
        return result
    # Sorted, so reordering omero.web.admins does not give a re-sent report another Message-ID.
    mid = message_id(event.id, SENDER_ID, recipient_list(sorted(found.valid)), domain_of(mail_from))
    result.mails = [Mail(message_id=mid, event_id=event.id, event_type=event.type, sender=SENDER_ID,
                         mail_from=mail_from, to=recipient_list(found.valid), subject=subject(event.data, prefix),
                         text=body(event.data))]
    return result


def planner(props: Mapping[str, str]) -> Callable[[Event], Plan]:
    """The rules stage's planner for ``web.error`` events; SenderConfigError on a bad property."""
    admins = parse_admins(props.get(ADMINS, "[]"))
    prefix = props.get("omero.web.admins.email_subject_prefix", DEFAULT_PREFIX)
    mail_from = props["omero.mail.from"]
    return lambda event: plan_web_error(event, admins, prefix, mail_from)
