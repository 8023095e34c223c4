"""The standalone app's URLs: its login, its static files, then the app's pages at the root."""

from pathlib import Path

from django.urls import include, path, re_path
from django.views.static import serve

from . import login

STATIC = Path(__file__).parent / "static"

urlpatterns = [
    path("login/", login.login, name="omero_mail_login"),
    path("logout/", login.logout, name="omero_mail_logout"),
    re_path(r"^static/(?P<path>.+)$", serve, {"document_root": str(STATIC)}),
    path("", include("consumer.admin.web.urls")),
]
