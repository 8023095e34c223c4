"""The app inside the OMERO.web stand-in, on waitress: ``python -m tests.omeroweb_standin.serve CONFIG PORT``."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def configure(config: str) -> None:
    import django
    from django.conf import settings

    sys.path.insert(0, str(HERE))
    settings.configure(
        DEBUG=False, SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="tests.omeroweb_standin.urls",
        INSTALLED_APPS=["django.contrib.staticfiles", "consumer.admin.web"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [str(HERE / "templates")],
                    "APP_DIRS": True, "OPTIONS": {"context_processors": [
                        "django.template.context_processors.request", "django.template.context_processors.csrf"]}}],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        SESSION_ENGINE="django.contrib.sessions.backends.cache", STATIC_URL="/static/", USE_TZ=True,
        DATABASES={}, OMERO_MAIL_CONFIG=[config],
    )
    django.setup()


def main(config: str, port: int) -> None:
    from waitress.server import create_server

    configure(config)
    from django.core.wsgi import get_wsgi_application

    server = create_server(get_wsgi_application(), host="127.0.0.1", port=port, threads=4)
    print(f"stand-in OMERO.web on http://127.0.0.1:{port}/", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
