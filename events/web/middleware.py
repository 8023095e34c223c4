"""The middleware that takes the place of Django's BrokenLinkEmailsMiddleware.

Same rules as Django's (it inherits them): a 404 whose Referer is set and not to be
ignored (``IGNORABLE_404_URLS``, search engines, bots, APPEND_SLASH redirects) becomes a
``web.error`` event instead of a mail to the managers. Nothing when DEBUG is on; never
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
                domain = request.get_host()
                referer = request.META.get("HTTP_REFERER", "")
                if not self.is_ignorable_request(request, request.get_full_path(), domain, referer):
                    publish(report.web_error(request, 404, internal=self.is_internal_request(domain, referer)))
            except Exception:  # noqa: BLE001 - a report must never break the response
                log.exception("could not report a broken link")
        return response
