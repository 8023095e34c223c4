"""The middleware that takes the place of Django's BrokenLinkEmailsMiddleware.

Same rules as Django's (it inherits them): a 404 whose Referer is set and not to be
ignored (``IGNORABLE_404_URLS``, search engines, bots, APPEND_SLASH redirects) becomes a
``web.error`` event carrying the subject and body Django would have mailed to the
managers (OMERO.web's ``MANAGERS`` are its ``ADMINS``). Nothing when DEBUG is on; never
an error in the response.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.middleware.common import BrokenLinkEmailsMiddleware

from . import report
from .publish import publish

log = logging.getLogger(__name__)


class BrokenLinkEventsMiddleware(BrokenLinkEmailsMiddleware):
    def process_response(self, request, response):
        if response.status_code == 404 and not settings.DEBUG:
            try:
                self.report(request)
            except Exception:  # noqa: BLE001 - a report must never break the response
                log.exception("could not report a broken link")
        return response

    def report(self, request) -> None:
        """django/middleware/common.py, ``process_response``: its texts, the query's secrets hidden."""
        domain = request.get_host()
        path = request.get_full_path()
        referer = request.META.get("HTTP_REFERER", "")
        if self.is_ignorable_request(request, path, domain, referer):
            return
        ua = request.META.get("HTTP_USER_AGENT", "<none>")
        ip = request.META.get("REMOTE_ADDR", "<none>")
        internal = self.is_internal_request(domain, referer)
        subject = "Broken %slink on %s" % ("INTERNAL " if internal else "", domain)
        body = "Referrer: %s\nRequested URL: %s\nUser agent: %s\nIP address: %s\n" % (
            report.redact_url(referer), report.redact_url(path), ua, ip)
        publish(report.web_error(request, 404, subject, body, internal=internal))
