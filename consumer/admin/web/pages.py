"""Rendering a page of the app: OMERO.web's look inside OMERO.web, the app's own standalone."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import site
from .access import admin_of

#: The base template each page's ``omero_mail/base.html`` extends.
OMERO_WEB_BASE = "webadmin/base.html"
STANDALONE_BASE = "omero_mail/standalone.html"

#: The navigation: (URL name, label, the lot for the parking pages).
NAVIGATION = (
    ("omero_mail_compose", "Email", None),
    ("omero_mail_broadcasts", "Broadcasts", None),
    ("omero_mail_parking", "Failed", "failed"),
    ("omero_mail_parking", "Invalid", "invalid"),
    ("omero_mail_health", "Health", None),
    ("omero_mail_senders", "Senders", None),
)


def page(request: HttpRequest, template: str, context: dict | None = None, *, status: int = 200,
         section: str = "") -> HttpResponse:
    """``template`` rendered for the admin of ``request``, with the base and the navigation."""
    from django.urls import reverse

    navigation = [{"url": reverse(name, args=[lot] if lot else []), "label": label,
                   "current": label.lower() == section.lower()} for name, label, lot in NAVIGATION]
    return render(request, template, {
        "omero_mail_base": STANDALONE_BASE if site.standalone() else OMERO_WEB_BASE,
        "standalone": site.standalone(),
        "admin": admin_of(request),
        "navigation": navigation,
        **(context or {}),
    }, status=status)
