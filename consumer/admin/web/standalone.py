"""Django's settings for ``omero-mail web``, made in code from the command's options.

No database: sessions live in this process's memory (``LocMemCache``), which is where the
login keeps the admin's proved broker URL; a restart logs everyone out, and nothing of a
login ever reaches a disk. The secret key is new at every start for the same reason.
Cookies are HttpOnly and SameSite=Lax; ``Secure`` follows ``omero.mail.web.secure-cookies``,
for a site that serves the app behind TLS. Hosts other than the configured one, the machine's
name, localhost and ``omero.mail.web.allowed-hosts`` are refused (``ALLOWED_HOSTS``), so a DNS
rebinding page cannot reach the app by another name. Behind a TLS reverse proxy, the scheme and
the client's address come from the proxy's headers, which waitress believes from
``omero.mail.web.trusted-proxy`` alone (``server.py``).
"""

from __future__ import annotations

import secrets
import socket
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from events.settings import WebSettings



def local_zone() -> str:
    """The machine's time zone by its IANA name (``TZ``, else ``/etc/localtime``'s link), else UTC:
    pages show times as the machine's clock does, not in Django's default zone (America/Chicago)."""
    import os
    from pathlib import Path

    named = os.environ.get("TZ", "").lstrip(":")
    if not named:
        try:
            named = str(Path("/etc/localtime").resolve()).split("/zoneinfo/", 1)[1]
        except (OSError, IndexError):
            named = ""
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(named)
    except (ValueError, KeyError, OSError):
        return "UTC"
    return named


def configure(config_files: Sequence[str], omero_config: str | None, host: str) -> WebSettings:
    """Django's settings for the standalone app, then ``django.setup()``; once per process.
    Returns the ``omero.mail.web.*`` settings read (a bad one is a ConfigError)."""
    import django
    from django.conf import settings

    from events.config import load
    from events.settings import web_settings

    web = web_settings(load(config_files=config_files, omero_config=omero_config))
    if settings.configured:
        return web
    secure = web.secure_cookies
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=sorted({"localhost", "127.0.0.1", "[::1]", host, socket.getfqdn(), *web.allowed_hosts}
                             - {"", "0.0.0.0", "::"}),
        ROOT_URLCONF="consumer.admin.web.standalone_urls",
        INSTALLED_APPS=["consumer.admin.web"],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                               "django.template.context_processors.csrf"]},
        }],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                            "OPTIONS": {"MAX_ENTRIES": 10000}}},
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        SESSION_COOKIE_NAME="omero_mail_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_AGE=8 * 3600,
        CSRF_COOKIE_HTTPONLY=True,
        CSRF_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        CSRF_COOKIE_SECURE=secure,
        X_FRAME_OPTIONS="DENY",
        SECURE_CONTENT_TYPE_NOSNIFF=True,
        SECURE_REFERRER_POLICY="same-origin",
        STATIC_URL="/static/",
        USE_TZ=True,
        TIME_ZONE=local_zone(),
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        DATABASES={},
        LOGGING_CONFIG=None,
        OMERO_MAIL_STANDALONE=True,
        OMERO_MAIL_CONFIG=list(config_files),
        OMERO_MAIL_OMERO_CONFIG=omero_config,
    )
    django.setup()
    return web

