"""The logging handler that takes the place of Django's AdminEmailHandler.

Put on the ``django.request`` logger, it turns each unhandled exception (HTTP 500) into
a ``web.error`` event. Like AdminEmailHandler it does nothing when DEBUG is on, and it
never raises into the request.
"""

from __future__ import annotations

import logging

from . import report
from .publish import publish

log = logging.getLogger(__name__)


class WebErrorHandler(logging.Handler):
    def __init__(self, level: int | str = logging.ERROR):
        super().__init__(level)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from django.conf import settings

            if settings.DEBUG or getattr(record, "status_code", 500) < 500:
                return
            request = getattr(record, "request", None)
            remote = request.META.get("REMOTE_ADDR") if request is not None else None
            publish(report.web_error(request, 500, record.exc_info,
                                     internal=remote in getattr(settings, "INTERNAL_IPS", ()),
                                     message=record.getMessage()))
        except Exception:  # noqa: BLE001 - a report must never break the response
            log.exception("could not report a web error")
