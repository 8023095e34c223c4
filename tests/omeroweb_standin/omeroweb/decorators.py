"""omero-web's ``login_required``, as its source behaves for the app (omeroweb/decorators.py)."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

from django.http import Http404, HttpResponseRedirect

LOGIN_URL = "/webclient/login/"


class Connection:
    """What the app asks of OMERO.web's BlitzGateway."""

    def __init__(self, user: str, admin: bool, session: str):
        self._user, self._admin, self._session = user, admin, session

    def isAdmin(self) -> bool:
        return self._admin

    def getUser(self):
        return SimpleNamespace(getName=lambda: self._user)

    def getEventContext(self):
        return SimpleNamespace(sessionUuid=self._session)


class login_required:
    def __init__(self, useragent="OMERO.web", isAdmin=False, isGroupOwner=False, doConnectionCleanup=True,
                 omero_group="-1", allowPublic=None):
        self.isAdmin = isAdmin

    def verify_is_admin(self, conn):
        if self.isAdmin and not conn.isAdmin():
            raise Http404

    def __call__(self, f):
        def wrapped(request, *args, **kwargs):
            url = request.GET.get("url") or request.get_full_path()
            who = request.session.get("standin")
            if who is None:
                return HttpResponseRedirect(f"{LOGIN_URL}?{urlencode({'url': url})}")
            conn = Connection(who["user"], who["admin"], who["session"])
            self.verify_is_admin(conn)
            kwargs["conn"] = conn
            kwargs["url"] = url
            return f(request, *args, **kwargs)

        return wrapped
