"""OMERO.web's error reports as ``web.error`` events instead of mail from the web process.

Two drop-in replacements for Django's mailing pieces (README, "OMERO.web error reports"), for an
OMERO.web site that installs ``omero-mail[web]``:

- :class:`~events.web.handler.WebErrorHandler`, in place of ``AdminEmailHandler`` on the
  ``django.request`` logger (unhandled exceptions, HTTP 500);
- :class:`~events.web.middleware.BrokenLinkEventsMiddleware`, in place of
  ``BrokenLinkEmailsMiddleware`` (a 404 with a Referer, by Django's own rules).

Each event carries the subject and body Django itself would have mailed (a 500's body
is Django's text technical report), so the consumer only adds OMERO.web's prefix and
addresses one mail to all of ``omero.web.admins``, as ``mail_admins`` does. Both
hand the event to the process's publisher thread and return at once (``publisher.py``),
send nothing when DEBUG (``omero.web.debug``) is on, and never raise into the request; an
event not confirmed within a short bound is spooled to a file of the web user's own
(``spool.py``). Secrets are redacted before anything leaves the web process (``report.py``).
"""
