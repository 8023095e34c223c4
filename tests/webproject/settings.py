"""A minimal Django project wired as an OMERO.web site would be to report through omero-mail."""

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "tests.webproject.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict = {}
USE_TZ = True

# In place of django.middleware.common.BrokenLinkEmailsMiddleware:
MIDDLEWARE = ["events.web.middleware.BrokenLinkEventsMiddleware"]

# In place of AdminEmailHandler on django.request:
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"omero_mail": {"level": "ERROR", "class": "events.web.handler.WebErrorHandler"}},
    "loggers": {"django.request": {"handlers": ["omero_mail"], "level": "ERROR", "propagate": False}},
}

# Set by each test: its own vhost, its own spool file.
OMERO_MAIL_BROKER_URL = ""
OMERO_MAIL_SPOOL = ""
OMERO_MAIL_PUBLISH_TIMEOUT = 2.0
