"""The stand-in's URLs: OMERO.web's omeroweb/urls.py puts each app of omero.web.apps under ^<its label>/."""

from django.http import HttpResponse
from django.urls import include, path, re_path


def standin_login(request):
    """What OMERO's login would have decided: who, whether an admin, the OMERO session key."""
    request.session["standin"] = {"user": request.GET["user"], "admin": request.GET.get("admin") == "1",
                                  "session": request.GET.get("session", "")}
    return HttpResponse("logged in")


urlpatterns = [
    path("standin/login/", standin_login),
    re_path(r"^omero_mail/", include("consumer.admin.web.urls")),
]
