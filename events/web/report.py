"""What a ``web.error`` event says about a failed request, with its secrets taken out.

The hooks publish the mail Django would have sent, its ``subject`` (before OMERO.web's
prefix) and ``body``, beside the event's fields (``events/schemas.py``: status, path, exception, ...) that the
flood guard keys on. A 500's body is Django's own text technical report, rendered by
:class:`RedactingExceptionReporter`: Django's ``ExceptionReporter`` with a filter that
hides more than Django's ``SafeExceptionReporterFilter`` does, in Django's own stars:

- every cookie value;
- the values of query, form and header fields whose names speak of a password, a session
  (OMERO.web puts its session key in ``bsession``), a token, a key, CSRF or authorization,
  wherever the request shows them (GET, POST, META, the request URL, the Referer);
- a password in a URL held by a setting (the broker URL has one), in its user part or its query;
- and frames' local variables are never gathered (the text report does not show them).

Django's own redactions (settings named like a key or a password,
``sensitive_post_parameters``) still apply.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_plus

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

HIDDEN = SafeExceptionReporterFilter.cleansed_substitute
SENSITIVE = re.compile(r"pass|secret|token|csrf|session|key|auth|signature|cookie|credential", re.I)
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@")


def shown(name: str, value: Any) -> Any:
    return HIDDEN if SENSITIVE.search(name) else value


def redact_query(query: str) -> str:
    """The query string with the values of sensitive parameters hidden, the rest as it was."""
    def part(text: str) -> str:
        name, equals, _value = text.partition("=")
        return f"{name}={HIDDEN}" if equals and SENSITIVE.search(unquote_plus(name)) else text

    return "&".join(part(text) for text in query.split("&"))


def redact_url(url: str | None) -> str | None:
    """A URL or a path with the values of sensitive query parameters hidden."""
    if not url or "?" not in url:
        return url
    base, _, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    return f"{base}?{redact_query(query)}{hash_}{fragment}"


def hide_url_password(text: str) -> str:
    return _URL_PASSWORD.sub(lambda match: f"{match.group(1)}{HIDDEN}@", text)


class RedactingFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return redact_url(hide_url_password(cleansed)) if isinstance(cleansed, str) else cleansed

    def get_safe_request_meta(self, request):
        if not hasattr(request, "META"):
            return {}
        return {key: self._meta_value(key, value) for key, value in request.META.items()}

    def _meta_value(self, key: str, value: Any) -> Any:
        if SENSITIVE.search(key):
            return HIDDEN
        # Strings as settings are: URLs (HTTP_REFERER, RAW_URI, REQUEST_URI) with their query redacted.
        cleansed = self.cleanse_setting(key, value)
        return redact_query(cleansed) if key == "QUERY_STRING" and isinstance(cleansed, str) else cleansed

    def get_safe_cookies(self, request):
        return {name: HIDDEN for name in getattr(request, "COOKIES", {})}

    def get_post_parameters(self, request):
        try:
            cleansed = super().get_post_parameters(request).copy()
        except Exception:  # noqa: BLE001 - a body Django could not parse is not worth a second error
            return {"(unreadable body)": ""}
        for name in list(cleansed):
            if SENSITIVE.search(name):
                cleansed[name] = HIDDEN
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        return []


class RedactingExceptionReporter(ExceptionReporter):
    """Django's reporter with :class:`RedactingFilter`, also over GET and the request URL,
    which Django's ``get_traceback_data`` takes from the request unfiltered."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filter = RedactingFilter()

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if self.request is not None:
            data["request_GET_items"] = [(name, shown(name, value)) for name, value in self.request.GET.items()]
            data["request_insecure_uri"] = redact_url(data["request_insecure_uri"])
        return data


def _absolute_url(request) -> str:
    try:
        return request.build_absolute_uri()
    except Exception:  # noqa: BLE001 - e.g. DisallowedHost, often the very error reported
        return request.get_full_path()


def web_error(request, status: int, subject: str, body: str, internal: bool = False,
              exception: str | None = None) -> dict:
    """The data of a ``web.error`` event for ``request`` (which may be None)."""
    data: dict[str, Any] = {"status": status, "method": "", "path": "", "internal": bool(internal),
                            "subject": subject, "body": body}
    if request is not None:
        meta = request.META
        data.update({
            "method": request.method or "",
            "path": request.path,
            "url": redact_url(_absolute_url(request)),
            "referer": redact_url(meta.get("HTTP_REFERER")) or None,
            "user_agent": meta.get("HTTP_USER_AGENT"),
            "remote_addr": meta.get("REMOTE_ADDR"),
        })
    if exception:
        data["exception"] = exception
    return data
