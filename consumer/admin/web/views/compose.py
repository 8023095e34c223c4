"""OMERO's Email page, queued: ``omero admin email`` in the browser, with a Cc that works, Bcc, HTML and From.

The form is OMERO.web's (``omeroweb/webadmin/forms.py`` ``EmailForm``: all users, users, groups,
include inactive users, subject, message), the users and groups offered being those of the
directory the consumer reads, plus Cc, Bcc, HTML and a From among ``omero.mail.broadcast.from``.
Submitting runs what ``omero-mail broadcast`` runs (``consumer/admin/broadcasting.py``): the
same checks in OMERO's order, OMERO's lines when refused (nothing is queued then), one
``admin.broadcast`` published with a confirm, and at once the broadcast's page, which follows it.

The requester is always the admin logged in (``access.admin_of``): the form has no field for
it, and a hand-made POST that names someone (``requested_by``, ``as_user``) is not read.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.shortcuts import redirect

from events.broker.errors import BrokerError
from senders.broadcast import BroadcastRefused
from senders.directory import DirectoryError

from ... import broadcasting
from .. import following, site
from ..access import Admin, admin_of, admin_page
from ..pages import page as render_page
from .broadcasts import NOTES

log = logging.getLogger(__name__)

#: The IDs this session's forms carry, each the ID its broadcast is queued under (a form sent again,
#: by a double click or after an unconfirmed publish, queues the same broadcast), and those queued.
ISSUED, QUEUED = "omero_mail_issued", "omero_mail_queued"
#: How many of those, and of the notes left for broadcasts' pages, a session keeps.
KEPT = 20
#: Cc and Bcc addresses are separated as in OMERO.web's Cc field (commas), or by lines or semicolons.
SEPARATORS = re.compile(r"[,;\r\n]+")


@admin_page
def index(request):
    return redirect("omero_mail_compose")


@admin_page
def page(request):
    try:
        if request.method == "POST":
            return _submit(request)
        following.warm_index(admin_of(request).broker_url)
        return _form(request, {"mail_from": ""})
    except DirectoryError as exc:
        # Whom a broadcast reaches cannot be told: say why in one line, queue nothing.
        log.warning("Email page without the directory: %s", exc)
        return render_page(request, "omero_mail/unavailable.html", {"title": "Email", "reason": str(exc)},
                           status=503, section="Email")


def request_from(fields, admin: Admin) -> tuple[broadcasting.Request, list[str]]:
    """The broadcast a submitted form asks for, and what is wrong with its addresses.

    ``fields`` is the POST (``get``, ``getlist``); the requester and the OMERO session's digest
    are the admin's, whatever the fields say.
    """
    errors: list[str] = []
    cc = _addresses(fields.get("cc", ""), "Cc", errors)
    bcc = _addresses(fields.get("bcc", ""), "Bcc", errors)
    request = broadcasting.Request(
        subject=fields.get("subject", ""), body=fields.get("message", "").replace("\r\n", "\n"),
        requested_by=admin.name, session_proof=admin.session_proof,
        everyone=_checked(fields, "everyone"), inactive=_checked(fields, "inactive"),
        user_ids=fields.getlist("experimenters"), group_ids=fields.getlist("groups"), cc=cc, bcc=bcc,
        html=_checked(fields, "html"), mail_from=fields.get("mail_from", "").strip() or None)
    return request, errors


def _checked(fields, name: str) -> bool:
    return fields.get(name, "") in ("on", "true", "1")


def _addresses(text: str, label: str, errors: list[str]) -> list[str]:
    found = [part.strip() for part in SEPARATORS.split(text) if part.strip()]
    for address in found:
        error = broadcasting.address_error(address)
        if error:
            errors.append(f"{label}: {error}")
    return found


def _submit(request):
    from ....access.trust import broker_user

    admin = admin_of(request)
    again = request.POST.get("event_id", "")
    if again in request.session.get(QUEUED, []):
        # The same form sent again: its broadcast is queued, and this one would mail everyone twice.
        return redirect("omero_mail_broadcast", event_id=again)
    props = site.properties()
    given, errors = request_from(request.POST, admin)
    if errors:
        return _form(request, request.POST, errors)
    people = directory()
    found = broadcasting.named(given, people)
    # Inside OMERO.web the rules stage trusts the OMERO session's digest; standalone, the broker user.
    acting_user = None if admin.session_proof is not None else broker_user(admin.broker_url)
    try:
        ready = broadcasting.check(given, found, props, people, acting_user)
    except BroadcastRefused as exc:
        return _form(request, request.POST, found.lines + broadcasting.refusal(exc)[1])
    try:
        # Two copies sent at once both get here, under the same ID: the rules stage folds the second.
        event_id = broadcasting.queue(admin.broker_url, props, ready,
                                      again if again in request.session.get(ISSUED, []) else None)
    except broadcasting.Uncertain as exc:
        _remember(request, ISSUED, exc.event_id)
        log.warning("broadcast %s of %r not confirmed: %s", exc.event_id, admin.name, exc)
        return _form(request, request.POST, [exc.advice("Sending this form again")], status=503,
                     event_id=exc.event_id)
    except BrokerError as exc:
        return _form(request, request.POST, [f"Not queued: {exc}"], status=503)
    _remember(request, QUEUED, event_id)
    log.info("admin %r queued broadcast %s to %s", admin.name, event_id, ready.recipients)
    if found.lines:
        notes = request.session.get(NOTES, {})
        notes[event_id] = found.lines
        request.session[NOTES] = dict(list(notes.items())[-KEPT:])
    return redirect("omero_mail_broadcast", event_id=event_id)


def directory():
    """The directory the consumer reads (``site.directory``)."""
    return site.directory()


def _remember(request, key: str, event_id: str) -> None:
    request.session[key] = [*request.session.get(key, []), event_id][-KEPT:]


def _form(request, values, lines: list[str] | tuple = (), *, status: int | None = None, event_id: str = ""):
    props = site.properties()
    people = directory()
    chosen_users = set(_list(values, "experimenters"))
    chosen_groups = set(_list(values, "groups"))
    experimenters = sorted(people.experimenters(), key=lambda e: e.omename)
    groups = sorted({g for e in experimenters for name in e.groups if (g := people.group(name)) is not None},
                    key=lambda g: g.name)
    allowed = [a.strip() for a in props["omero.mail.broadcast.from"].split(",") if a.strip()]
    if not event_id:
        event_id = str(uuid.uuid4())
        _remember(request, ISSUED, event_id)
    return render_page(request, "omero_mail/compose.html", {
        "lines": list(lines),
        "event_id": event_id,
        "values": {key: values.get(key, "") for key in ("subject", "message", "cc", "bcc", "mail_from")},
        "checked": {key: _checked(values, key) for key in ("everyone", "inactive", "html")},
        "experimenters": [{"id": e.id, "label": _label(e), "selected": str(e.id) in chosen_users}
                          for e in experimenters],
        "groups": [{"id": g.id, "name": g.name, "selected": str(g.id) in chosen_groups} for g in groups],
        "senders": [{"address": "", "label": f"{props['omero.mail.from']} (omero.mail.from)"}]
                   + [{"address": a, "label": a} for a in allowed],
    }, status=status or (400 if lines else 200), section="Email")


def _list(values, key: str) -> list[str]:
    return values.getlist(key) if hasattr(values, "getlist") else list(values.get(key, ()))


def _label(experimenter) -> str:
    """OMERO.web's label for a user: the full name, the omeName, and whether inactive."""
    name = f"{experimenter.full_name} ({experimenter.omename})" if experimenter.full_name else experimenter.omename
    return name + ("" if experimenter.active else " - Inactive")
