"""What a ``web.error`` event says about a failed request, with its secrets taken out.

The hooks publish the mail Django would have sent, its ``subject`` (before OMERO.web's
prefix) and ``body``, beside the event's fields (``events/schemas.py``: status, path, exception, ...) that the
flood guard keys on. A 500's body is Django's own text technical report, rendered by
:class:`RedactingExceptionReporter`: Django's ``ExceptionReporter`` with a filter that
hides more than Django's ``SafeExceptionReporterFilter`` does, in Django's own stars:

- every cookie value;
- the values of query, form and header fields whose names speak of a password, a session
  (OMERO.web puts its session key in ``bsession``), a token, a key, CSRF or authorization,
  wherever the request shows them (GET, POST, META, the request URL, the Referer), also in
  a URL that a parameter carries percent-encoded (OMERO.web's login redirect ``?url=``);
- a password in a URL held by a setting (the broker URL has one), in its user part or its query;
- and frames' local variables are never gathered (the text report does not show them).

Django's own redactions (settings named like a key or a password,
``sensitive_post_parameters``) still apply.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote_plus

from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from events.config import redact

HIDDEN = SafeExceptionReporterFilter.cleansed_substitute
SENSITIVE = re.compile(r"pass|secret|token|csrf|session|key|auth|signature|cookie|credential", re.I)


def shown(name: str, value: Any) -> Any:
    if SENSITIVE.search(name):
        return HIDDEN
    return hide_nested(value) if isinstance(value, str) else value


def redact_query(query: str) -> str:
    """The query string with the values of sensitive parameters hidden, the rest as it was.

    A value is percent-decoded and searched again, so a session key in a URL carried by a
    parameter (OMERO.web's login redirect, ``?url=%2Fwebclient%2F%3Fbsession%3D...``) is
    hidden too; a value with nothing to hide keeps its exact text.
    """
    return _redact_query(query, NESTING)


def redact_url(url: str | None) -> str | None:
    """A URL or a path with the values of sensitive query parameters hidden."""
    return _redact_url(url, NESTING) if url else url


def hide_nested(value: str) -> str:
    """A parameter's value (already decoded once) with the secrets of a query inside it hidden."""
    return _hide_nested(value, NESTING)


#: How many URLs deep a query is searched; a secret still there below that hides the whole value.
NESTING = 4
_ANY_SENSITIVE_FIELD = re.compile(r"(?:^|[?&;])[^=&?;]*(?:" + SENSITIVE.pattern + r")[^=&?;]*=", re.I)


def _redact_query(query: str, depth: int) -> str:
    def part(text: str) -> str:
        name, equals, value = text.partition("=")
        if not equals:
            return text
        if SENSITIVE.search(unquote_plus(name)):
            return f"{name}={HIDDEN}"
        decoded = unquote_plus(value)
        hidden = _hide_nested(decoded, depth - 1)
        return text if hidden == decoded else f"{name}={quote(hidden, safe='/:*')}"

    return "&".join(part(text) for text in query.split("&"))


def _redact_url(url: str, depth: int) -> str:
    if "?" not in url:
        return url
    base, _, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    return f"{base}?{_redact_query(query, depth)}{hash_}{fragment}"


def _hide_nested(value: str, depth: int) -> str:
    if "=" not in value:
        decoded = unquote_plus(value)
        if decoded == value:
            return value
        inner = _hide_nested(decoded, depth)
        return value if inner == decoded else inner
    if depth <= 0:
        return HIDDEN if _ANY_SENSITIVE_FIELD.search(unquote_plus(value)) else value
    return _redact_url(value, depth) if "?" in value else _redact_query(value, depth)


class RedactingFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        cleansed = super().cleanse_setting(key, value)
        return redact_url(redact(cleansed, HIDDEN)) if isinstance(cleansed, str) else cleansed

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
            elif hasattr(cleansed, "setlist"):
                cleansed.setlist(name, [shown(name, value) for value in cleansed.getlist(name)])
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
