"""Who may see and change what: every page needs a logged-in OMERO admin, every change a POST.

An :class:`Admin` is put on the request (``request.omero_mail_admin``) by :func:`admin_page`:

- inside OMERO.web, by OMERO.web's own ``login_required(isAdmin=True)``: the admin logged in to
  OMERO.web. The app publishes with its own broker user (``omero.mail.web.broker.url``) and
  proves the admin to the rules stage with the digest of their OMERO session key (README,
  "The web app's broadcasts");
- standalone (``omero-mail web``), by this app's login (``login.py``), which keeps the broker
  login the admin proved in the server-side session, in the process's memory only.

A page never trusts a form for who the admin is. Changes are :func:`admin_action` views: POST
only, behind Django's CSRF check (both OMERO.web and the standalone settings run
``CsrfViewMiddleware``). Every response of the app carries :data:`HEADERS`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotAllowed
from django.shortcuts import redirect

from . import site

#: Where the standalone login keeps the admin: name and broker URL, in the session (memory only).
SESSION_KEY = "omero_mail_admin"

#: Against clickjacking and MIME sniffing, and so that a page with a parked message is never cached.
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: Standalone pages load nothing but their own files; inside OMERO.web the base templates carry
#: inline scripts of OMERO.web's, so there only framing is limited.
STANDALONE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
OMERO_WEB_CSP = "frame-ancestors 'none'"


@dataclass(frozen=True)
class Admin:
    """The OMERO admin behind a request, and the broker login the app acts with for them."""

    name: str
    broker_url: str = field(repr=False)
    #: Inside OMERO.web: the digest of the admin's OMERO session key, for the rules stage.
    session_proof: str | None = field(default=None, repr=False)


def secured(response: HttpResponse) -> HttpResponse:
    for name, value in HEADERS.items():
        response[name] = value
    response["Content-Security-Policy"] = STANDALONE_CSP if site.standalone() else OMERO_WEB_CSP
    return response


def admin_of(request: HttpRequest) -> Admin:
    return request.omero_mail_admin


def admin_page(view):
    """The view runs for a logged-in OMERO admin only; anyone else is sent to log in (or refused)."""
    standalone = _standalone(view)
    inside: list = []

    @functools.wraps(view)
    def checked(request: HttpRequest, *args, **kwargs):
        if site.standalone():
            return standalone(request, *args, **kwargs)
        if not inside:
            inside.append(_inside_omero_web(view))
        return inside[0](request, *args, **kwargs)

    return checked


def admin_action(view):
    """A change: POST only, for a logged-in admin, CSRF-checked by the middleware."""

    @functools.wraps(view)
    def post_only(request: HttpRequest, *args, **kwargs):
        if request.method != "POST":
            return secured(HttpResponseNotAllowed(["POST"]))
        return view(request, *args, **kwargs)

    return admin_page(post_only)


def _standalone(view):
    @functools.wraps(view)
    def logged_in(request: HttpRequest, *args, **kwargs):
        kept = request.session.get(SESSION_KEY)
        if not kept:
            if request.method == "POST":
                return secured(HttpResponseForbidden("Log in as an OMERO admin first."))
            return secured(redirect(f"{_login_url()}?next={request.get_full_path()}"))
        if not _still_admin(kept["name"]):
            # Removed from group system since the login: the session ends here.
            request.session.flush()
            if request.method == "POST":
                return secured(HttpResponseForbidden("No longer an OMERO admin."))
            return secured(redirect(_login_url()))
        request.omero_mail_admin = Admin(kept["name"], kept["broker_url"])
        return secured(view(request, *args, **kwargs))

    return logged_in


def _still_admin(name: str) -> bool:
    """Whether ``name`` is still an OMERO admin in the directory as last read; when it cannot be
    read at all (never read in this process), the login's answer stands."""
    from senders.directory import DirectoryError

    try:
        return site.is_admin(name)
    except DirectoryError:
        return True


def _login_url() -> str:
    from django.urls import reverse

    return reverse("omero_mail_login")


def _inside_omero_web(view):
    # OMERO.web's decorator (omeroweb/decorators.py): a connection for a logged-in user, its login
    # page otherwise, and Http404 for a user who is not an OMERO admin (verify_is_admin). It passes
    # the view ``conn`` and ``url`` (and ``server_id`` when the URL has one), which are its own.
    from omeroweb.decorators import login_required

    @functools.wraps(view)
    def as_omero_admin(request: HttpRequest, *args, conn=None, url=None, server_id=None, **kwargs):
        from events.session_proof import session_proof

        if conn is None or not conn.isAdmin():
            return secured(HttpResponseForbidden("Only OMERO admins may use omero-mail's pages."))
        proof = session_proof(conn.getEventContext().sessionUuid)
        # The app's own broker user; where none is configured (publishers unchecked), the site's URL.
        url = site.read().web.broker_url or site.read().broker_url
        request.omero_mail_admin = Admin(conn.getUser().getName(), url, proof)
        return secured(view(request, *args, **kwargs))

    return login_required(isAdmin=True)(as_omero_admin)
