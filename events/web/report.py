"""What a ``web.error`` event says about a failed request, with its secrets taken out.

The data of Django's own error report (traceback, request) as the ``web.error`` fields
of ``events/schemas.py``.
Cookies are named but never shown; headers, query and form fields whose names speak of
a password, a session, a token, a key, CSRF or authorization are shown as ``********``
(OMERO.web puts its session key in ``bsession``). The traceback has no local variables,
unlike Django's own report, so nothing a frame held can leak.
"""

from __future__ import annotations

import re
import traceback
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "********"
SENSITIVE = re.compile(r"pass|secret|token|csrf|session|key|auth|signature|cookie|credential", re.I)
#: The request headers worth reading in a report, beside every HTTP_* header.
META_KEYS = ("REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "CONTENT_TYPE", "CONTENT_LENGTH")


def shown(name: str, value: Any) -> str:
    return HIDDEN if SENSITIVE.search(name) else str(value)


def redact_url(url: str | None) -> str | None:
    """The URL with the values of sensitive query parameters hidden."""
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, shown(k, v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*/")))


def _fields(title: str, items) -> list[str]:
    lines = [f"{title}:"]
    lines += [f"  {key} = {shown(key, value)}" for key, value in items] or ["  (none)"]
    return lines


def request_text(request) -> str:
    """The request as the report's ``Request:`` section: line, GET, POST, cookies, headers."""
    lines = [f"{request.method} {redact_url(request.get_full_path())}"]
    lines += _fields("GET", sorted(request.GET.lists()))
    try:
        post = sorted(request.POST.lists())
    except Exception:  # noqa: BLE001 - a body Django could not parse is not worth a second error
        post = [("(unreadable body)", "")]
    lines += _fields("POST", post)
    lines.append("COOKIES: " + (", ".join(f"{name}={HIDDEN}" for name in sorted(request.COOKIES)) or "(none)"))
    meta = request.META
    keys = sorted(k for k in meta if k.startswith("HTTP_")) + [k for k in META_KEYS if k in meta]
    lines += _fields("META", [(k, meta[k]) for k in keys])
    return "\n".join(lines) + "\n"


def _absolute_url(request) -> str:
    try:
        return request.build_absolute_uri()
    except Exception:  # noqa: BLE001 - e.g. DisallowedHost, often the very error reported
        return request.get_full_path()


def web_error(request, status: int, exc_info=None, internal: bool = False, message: str = "") -> dict:
    """The data of a ``web.error`` event for ``request`` (which may be None)."""
    data: dict[str, Any] = {"status": status, "method": "", "path": "", "internal": bool(internal)}
    if request is not None:
        meta = request.META
        data.update({
            "method": request.method or "",
            "path": request.path,
            "url": redact_url(_absolute_url(request)),
            "referer": redact_url(meta.get("HTTP_REFERER")) or None,
            "user_agent": meta.get("HTTP_USER_AGENT"),
            "remote_addr": meta.get("REMOTE_ADDR"),
            "request": request_text(request),
        })
    if exc_info and exc_info[0] is not None:
        kind, value, tb = exc_info
        data["exception"] = f"{kind.__name__}: {value}"
        data["traceback"] = "".join(traceback.format_exception(kind, value, tb))
    elif message:
        data["exception"] = message
    return data
