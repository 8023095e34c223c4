"""The logging handler that takes the place of Django's AdminEmailHandler.

Put on the ``django.request`` logger, it turns each unhandled exception (HTTP 500) into
a ``web.error`` event. It *is* an AdminEmailHandler, so the subject and the body are the
ones Django builds (``django/utils/log.py``, ``AdminEmailHandler.emit``), the body's
report rendered by :class:`~events.web.report.RedactingExceptionReporter`; only
``send_mail`` differs: it hands the event to the publisher thread (``publish.py``) instead
of calling ``mail_admins``, and returns at once. Like OMERO.web's ``mail_admins`` handler
(filter ``require_debug_false``) it does nothing when DEBUG is on, and it never raises into
the request.
"""

from __future__ import annotations

import logging
import threading

from django.utils.log import AdminEmailHandler

from . import report
from .publish import publish

log = logging.getLogger(__name__)


class WebErrorHandler(AdminEmailHandler):
    def __init__(self):
        super().__init__(reporter_class="events.web.report.RedactingExceptionReporter")
        #: The record being emitted, for ``send_mail``, which Django gives only the texts.
        self._emitting = threading.local()

    def handle(self, record: logging.LogRecord) -> bool:
        """``logging.Handler.handle`` without its lock: ``emit`` is safe in many threads at once (the
        record is per thread, the publisher's queue has its own lock), so concurrent 500s are not
        reported in turn."""
        passed = bool(self.filter(record))
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from django.conf import settings

            if settings.DEBUG or getattr(record, "status_code", 500) < 500:
                return
            self._emitting.record = record
            try:
                super().emit(record)
            finally:
                del self._emitting.record
        except Exception:  # noqa: BLE001 - a report must never break the response
            log.exception("could not report a web error")

    def send_mail(self, subject, message, *args, **kwargs):
        from django.conf import settings

        record = self._emitting.record
        request = getattr(record, "request", None)
        remote = request.META.get("REMOTE_ADDR") if request is not None else None
        if record.exc_info and record.exc_info[0] is not None:
            kind, value, _tb = record.exc_info
            exception = f"{kind.__name__}: {value}"
        else:
            exception = record.getMessage()
        publish(report.web_error(request, 500, subject, message, internal=remote in settings.INTERNAL_IPS,
                                 exception=exception))
