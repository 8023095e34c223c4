"""The recent broadcasts, and one broadcast's progress and emails: ``broadcast status``, in the browser.

- :func:`listing`: the last 1,000 broadcasts of ``omero.mail.broadcasts``, newest first, a page
  at a time, from the web process's copy of that index (``following.py``); each row's status
  is fetched by the page's script (``broadcasts.js``), so the list never waits for them.
- :func:`detail`: a broadcast's page; its script (``broadcast.js``) polls :func:`progress`
  until the broadcast is finished, and draws the bar, OMERO's summary and the emails.
- :func:`progress`: JSON from the broadcast's shared reader (``?follow=0``: from a read of
  its results queue, for a row of the list, which starts no reader).
"""

from __future__ import annotations

import dataclasses
import logging

from django.http import JsonResponse

from events.broker.errors import BrokerError

from .. import following
from ..access import admin_of, admin_page
from ..pages import page as render_page
from ..tallies import shown

log = logging.getLogger(__name__)

#: Broadcasts on one page of the list.
PER_PAGE = 25
#: Where a broadcast's outcomes went, as ``broadcast status`` says it.
UNKNOWN = ("No broadcast {} is known (none queued with this ID, or its outcomes expired after "
           "omero.mail.broadcast.results.expires)")
#: Where the compose page leaves OMERO's lines about a broadcast it queued, for its page.
NOTES = "omero_mail_broadcast_notes"


@admin_page
def listing(request):
    number = _page_number(request.GET.get("page"))
    try:
        index = following.recent(admin_of(request).broker_url)
        rows, total = index.newest((number - 1) * PER_PAGE, PER_PAGE) if index is not None else ([], 0)
    except (following.Unreadable, BrokerError) as exc:
        return render_page(request, "omero_mail/broadcasts.html", {"error": f"The broadcasts cannot be read: {exc}"},
                           status=503, section="Broadcasts")
    last = max(1, -(-total // PER_PAGE))
    return render_page(request, "omero_mail/broadcasts.html", {
        "rows": [{**dataclasses.asdict(row), "when": when(row.at)} for row in rows],
        "total": total, "number": number, "last": last,
        "newer": number - 1 if number > 1 else None, "older": number + 1 if number < last else None,
    }, section="Broadcasts")


@admin_page
def detail(request, event_id):
    event_id = str(event_id)
    try:
        kept = following.exists(admin_of(request).broker_url, event_id)
    except BrokerError as exc:
        return render_page(request, "omero_mail/broadcast_unknown.html",
                           {"message": f"The broadcast cannot be read now: {exc}"}, status=503, section="Broadcasts")
    if not kept:
        return render_page(request, "omero_mail/broadcast_unknown.html", {"message": UNKNOWN.format(event_id)},
                           status=404, section="Broadcasts")
    notes = request.session.get(NOTES, {}).get(event_id, [])
    return render_page(request, "omero_mail/broadcast.html", {"event_id": event_id, "notes": notes},
                       section="Broadcasts")


@admin_page
def progress(request, event_id):
    event_id = str(event_id)
    url = admin_of(request).broker_url
    try:
        if request.GET.get("follow") == "0":
            tally = following.read(url, event_id)
            if tally is None:
                return JsonResponse({"error": UNKNOWN.format(event_id)}, status=404)
            return JsonResponse(shown(tally, listed=0))
        if following.readers.peek(event_id) is None and not following.exists(url, event_id):
            return JsonResponse({"error": UNKNOWN.format(event_id)}, status=404)
        return JsonResponse(following.followed(url, event_id).view(shown))
    except (following.Unreadable, BrokerError) as exc:
        log.warning("progress of broadcast %s not read: %s", event_id, exc)
        return JsonResponse({"error": f"The outcomes cannot be read now: {exc}"}, status=503)


def when(at: str) -> str:
    """An outcome's time (ISO 8601, UTC) as a page shows it."""
    return at.replace("T", " ").replace("+00:00", " UTC")


def _page_number(given: str | None) -> int:
    try:
        return max(1, int(given or 1))
    except ValueError:
        return 1
