"""The parking lots, ``omero.mail.failed`` and ``omero.mail.invalid``: browse, open one, replay or purge.

What ``omero-mail failed|invalid list|show|replay|purge`` do, in the browser, through the same
code (``consumer/admin/attendant.py``, ``parking.py``): the same :class:`~consumer.admin.parking.Filter`,
the same choice (``choose``, with the check boxes as message keys), the same replay and
purge, with the same broker login. Pages are served from a snapshot of the lot
(``snapshots.py``). A replay or purge is two POSTs: the first reads the lot again and shows what
would be done, changing nothing; the second does it, only if the lot still gives the same
choice (a digest of it travels in the form), and otherwise shows the new count instead.

What a stage refused as untrusted is marked so and is never replayed from here: no replay is
offered for it, and ``choose`` refuses a replay that names it, however the POST was made. The
command line's ``--untrusted ID`` (an admin vouching for one) has no counterpart here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.urls import reverse

from events.broker import BrokerError
from events.config import redact

from ... import parking
from ...attendant import Attendant
from .. import site
from ..access import admin_action, admin_of, admin_page
from ..pages import page as render_page
from ..snapshots import Snapshots

log = logging.getLogger(__name__)

PER_PAGE = 50
#: What the confirmation lists at most; the count is always whole.
SHOWN = 200
FILTERS = ("sender", "recipient", "since", "error")
ACTIONS = {"replay": "replayed", "purge": "purged"}


def attendant(lot: str) -> Attendant:
    return Attendant.of(site.properties(), lot, url_key=f"omero.mail.web.{lot}.broker.url")


SNAPSHOTS = Snapshots(lambda lot: attendant(lot).entries())


def _filter(data) -> tuple[parking.Filter, dict[str, str], str]:
    """The filter a form gives (an empty field filters nothing), its values, and what was wrong."""
    given = {name: data.get(name, "").strip() for name in FILTERS}
    since = None
    if given["since"]:
        try:
            since = parking.parse_since(given["since"])
        except ValueError as exc:
            return parking.Filter(), given, str(exc)
    return parking.Filter(sender=given["sender"], recipient=given["recipient"], since=since,
                          error=given["error"]), given, ""


def _row(item: parking.Entry) -> dict:
    return {"key": item.parked.key, "id": item.id, "when": item.when[:19].replace("T", " "),
            "sender": item.sender, "recipient": item.recipient, "subject": item.subject, "error": item.error,
            "attempts": item.attempts, "untrusted": item.untrusted}


def _lot_context(lot: str) -> dict:
    queue = (parking.FAILED if lot == "failed" else parking.INVALID).queue
    return {"lot": lot, "queue": queue, "title": queue, "events": lot == "invalid",
            "target": "the outbox" if lot == "failed" else "omero.events"}


def _problem(request, lot: str, error: str, status: int):
    return render_page(request, "omero_mail/parking_confirm.html", {**_lot_context(lot), "error": error},
                       status=status, section=lot)


@admin_page
def listing(request, lot):
    chosen, given, wrong = _filter(request.GET)
    try:
        snapshot = SNAPSHOTS.refresh(lot) if request.GET.get("fresh") else SNAPSHOTS.current(lot)
    except BrokerError as exc:
        return _problem(request, lot, redact(str(exc)), 503)
    matched = [] if wrong else (parking.select(snapshot.entries, chosen) if chosen else snapshot.entries)
    shown = Paginator(matched, PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode({k: v for k, v in given.items() if v})
    return render_page(request, "omero_mail/parking.html", {
        **_lot_context(lot), "rows": [_row(item) for item in shown], "shown": shown, "matched": len(matched),
        "total": len(snapshot.entries), "filtered": bool(chosen), "given": given, "wrong": wrong, "query": query,
        "read_at": snapshot.read_at.strftime("%Y-%m-%d %H:%M:%S UTC"), "age": int(snapshot.age),
        "done": _done(request.GET),
    }, status=400 if wrong else 200, section=lot)


def _done(data) -> str:
    """The sentence after a replay or purge (numbers and a word from a fixed list only)."""
    action, count, gone = data.get("done"), data.get("count", ""), data.get("gone", "0")
    if action not in ACTIONS.values() or not count.isdigit() or not gone.isdigit():
        return ""
    sentence = f"{action.capitalize()} {int(count)} message(s)."
    if int(gone):
        sentence += f" {int(gone)} of the chosen had left the lot meanwhile; nothing was done to them."
    return sentence


@admin_page
def detail(request, lot, parked_id):
    try:
        snapshot = SNAPSHOTS.current(lot)
        if parked_id not in snapshot.by_key and snapshot.age > 1:
            snapshot = SNAPSHOTS.refresh(lot)
    except BrokerError as exc:
        return _problem(request, lot, redact(str(exc)), 503)
    copies = snapshot.by_key.get(parked_id)
    if not copies:
        return _problem(request, lot, f"This message is no longer in {_lot_context(lot)['queue']} "
                                      "(replayed or purged).", 404)
    item = copies[0]
    context = {**_lot_context(lot), "item": item, "row": _row(item), "copies": len(copies),
               "details": [(k, _shown(v)) for k, v in item.as_dict().items() if v not in ("", [], None)],
               "headers": [(k, _shown(v)) for k, v in item.parked.headers.items()], "body": _body(item.parked.body)}
    if lot == "failed":
        try:
            envelope = parking.as_sent(item.parked)
            context.update(mail_from=envelope.mail_from, rcpt_to=", ".join(envelope.recipients),
                           source=envelope.data.decode("utf-8", "replace"))
        except ValueError as exc:
            context["unsendable"] = str(exc)
    return render_page(request, "omero_mail/parked.html", context, section=lot)


def _shown(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=lambda v: _shown(v) if isinstance(v, bytes) else str(v))


def _body(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        return text


def _digest(action: str, choice: parking.Choice) -> str:
    digest = hashlib.sha256(f"{action}\0{choice.lot.queue}\0".encode())
    for key in sorted(choice.keys):
        digest.update(key.encode())
    return digest.hexdigest()


@admin_action
def act(request, lot):
    """Replay or purge the checked messages (``scope=selected``) or those the filter matches."""
    action, scope = request.POST.get("action"), request.POST.get("scope")
    keys = request.POST.getlist("key") if scope == "selected" else []
    chosen, given, wrong = _filter(request.POST) if scope == "filter" else (parking.Filter(), {}, "")
    if action not in ACTIONS or scope not in ("selected", "filter") or wrong or (scope == "selected" and not keys):
        return _problem(request, lot, wrong or "Nothing was chosen: check messages, or act on the filter.", 400)
    clerk = attendant(lot)
    try:
        with SNAPSHOTS.working(lot):
            entries = SNAPSHOTS.refreshed(lot).entries
            choice = clerk.choose(entries, (), chosen, keys=keys, replaying=action == "replay")
            digest = _digest(action, choice)
            confirmed = request.POST.get("step") == "confirm"
            if confirmed and request.POST.get("expected") == digest and choice.acted:
                done = clerk.replay(choice) if action == "replay" else clerk.purge(choice)
                log.info("admin %r %s %d message(s) of %s from the web app", admin_of(request).name,
                         ACTIONS[action], done.done, clerk.lot.queue)
                SNAPSHOTS.refreshed(lot)
                return HttpResponseRedirect(reverse("omero_mail_parking", args=[lot]) + "?" + urlencode(
                    {"done": ACTIONS[action], "count": done.done, "gone": done.gone}))
    except parking.Refused as exc:
        return _problem(request, lot, str(exc), 409)
    except BrokerError as exc:
        return _problem(request, lot, redact(str(exc)), 503)
    return render_page(request, "omero_mail/parking_confirm.html", {
        **_lot_context(lot), "action": action, "scope": scope, "keys": keys, "given": given, "digest": digest,
        "count": len(choice.acted), "total": len(entries), "rows": [_row(item) for item in choice.acted[:SHOWN]],
        "more": max(0, len(choice.acted) - SHOWN), "left": [(_row(item), why) for item, why in choice.left],
        "changed": confirmed,
    }, section=lot)
