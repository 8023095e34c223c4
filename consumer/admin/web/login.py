"""The standalone app's login: an admin proves the identity ``omero-mail broadcast`` uses.

With the publishers checked (``omero.mail.broker.check-publishers``), that identity is the
broker user of the admin's own name: the login connects to RabbitMQ as that user with the
password given, exactly as the command does with ``omero.mail.broadcast.password``
(``consumer/access/credentials.py``), so RabbitMQ checks the password and the rules stage later
trusts what it stamps. Unchecked (the development default), the command publishes with the
configured broker URL, so the login asks for that URL's password. Either way the name must
be an OMERO admin in the directory the consumer reads (``senders.broadcast.check_admin``).

The proved broker URL stays in the server-side session, in this process's memory only
(``standalone.py``): never in a cookie, a file or a log. What was wrong is not told (name or
password). Guessing is bounded per name and client address (:class:`Throttle`): after
:data:`ATTEMPTS` refused logins within :data:`WINDOW` seconds, the next ones are answered 429
at once, without asking RabbitMQ, until the window has passed; a refused login also waits
half a second, which holds one of the server's threads, so the bound, not the pause, is
what limits guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from urllib.parse import unquote, urlsplit

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST

from senders.directory import DirectoryError

from . import site
from .access import SESSION_KEY, secured

log = logging.getLogger(__name__)
REFUSED_PAUSE = 0.5
#: Refused logins a name may have from one client address within WINDOW seconds.
ATTEMPTS = 5
WINDOW = 60.0
THROTTLED = "Not logged in: too many refused logins for this name from here; wait a minute."


class Throttle:
    """Logins per (name, client address) over the last WINDOW seconds, in this process.

    An attempt is counted when it starts (:meth:`attempt`), so logins arriving together cannot
    all pass the bound before any of them is refused; one that succeeds is taken back
    (:meth:`admitted`), so only refused ones count. Whoever reaches the login page chooses the
    names, so a pair is kept as a digest, and dropped once its window has passed: what is kept
    is bounded by the logins of one window, not by every name ever tried.
    """

    def __init__(self, attempts: int = ATTEMPTS, window: float = WINDOW):
        self.attempts, self.window = attempts, window
        self._lock = threading.Lock()
        self._counted: dict[bytes, list[float]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._counted)

    def attempt(self, name: str, address: str) -> float | None:
        """The attempt's mark, or None when the bound is reached (refuse without checking)."""
        key = _pair(name, address)
        with self._lock:
            now = time.monotonic()
            self._counted = {pair: marks for pair, marks in self._counted.items()
                             if marks and now - marks[-1] < self.window}
            recent = [at for at in self._counted.get(key, []) if now - at < self.window]
            if len(recent) >= self.attempts:
                self._counted[key] = recent
                return None
            self._counted[key] = [*recent, now]
            return now

    def admitted(self, name: str, address: str, mark: float) -> None:
        key = _pair(name, address)
        with self._lock:
            counted = self._counted.get(key, [])
            if mark in counted:
                counted.remove(mark)
            if not counted:
                self._counted.pop(key, None)


def _pair(name: str, address: str) -> bytes:
    return hashlib.blake2b(f"{name}\0{address}".encode(), digest_size=16).digest()


THROTTLE = Throttle()
REFUSED = "Not logged in: the name or the password is wrong, or the name is not an OMERO admin's."


def proved_url(name: str, password: str) -> str | None:
    """The broker URL ``name`` acts with, when ``password`` proves it; None otherwise."""
    from events.broker import existing_queues
    from events.broker.errors import BrokerError

    from ...access.credentials import with_login
    from ...access.trust import Trust

    props = site.properties()
    configured = props["omero.mail.broker.url"]
    if Trust.from_properties(props).checked:
        url = with_login(configured, name, password)
    else:
        expected = unquote(urlsplit(configured.split(",")[0].strip()).password or "guest")
        if not hmac.compare_digest(password.encode(), expected.encode()):
            return None
        url = configured
    try:
        existing_queues(url, [])
    except BrokerError as exc:
        log.warning("login of %r refused by RabbitMQ or not checked: %s", name, exc)
        return None
    return url


@csrf_protect
def login(request: HttpRequest) -> HttpResponse:
    error = ""
    name = ""
    target = request.POST.get("next") or request.GET.get("next") or ""
    # Over HTTPS, not to this host's plain HTTP either (as Django's own LoginView).
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = ""
    status = 200
    if request.method == "POST":
        name = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        address = request.META.get("REMOTE_ADDR", "")
        mark = THROTTLE.attempt(name, address)
        if mark is None:
            log.warning("login of %r from %s refused unchecked: %d refused within %gs", name, address, ATTEMPTS, WINDOW)
            return secured(render(request, "omero_mail/login.html",
                                  {"error": THROTTLED, "username": name, "next": target}, status=429))
        url = proved_url(name, password) if name and password else None
        try:
            admitted = url is not None and site.is_admin(name)
        except DirectoryError as exc:
            # The password was right; whether the name is an admin's cannot be told now (the database is down).
            log.warning("login of %r not checked: %s", name, exc)
            error, status = f"Not logged in: {exc}", 503
        else:
            if admitted:
                THROTTLE.admitted(name, address, mark)
                # A new session and a new CSRF token: neither one planted before the login survives it.
                request.session.cycle_key()
                rotate_token(request)
                request.session[SESSION_KEY] = {"name": name, "broker_url": url}
                log.info("admin %r logged in to the web app", name)
                return secured(redirect(target or "omero_mail_index"))
            time.sleep(REFUSED_PAUSE)
            error, status = REFUSED, 403
    return secured(render(request, "omero_mail/login.html", {"error": error, "username": name, "next": target},
                          status=status))


@require_POST
@csrf_protect
def logout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return secured(redirect("omero_mail_login"))
