"""Publish a ``web.error`` event from the web process, or spool it when that fails.

A web request must never wait long or fail because the mail path is down: the publish
has a short timeout (``OMERO_MAIL_PUBLISH_TIMEOUT``, 2 s) and one attempt, and any
failure appends the event, one JSON line, to ``OMERO_MAIL_SPOOL`` so it is not lost.
``omero-mail publish-spool FILE`` publishes a spool file's events later.

The broker is ``OMERO_MAIL_BROKER_URL`` from Django's settings, else omero-mail's
``omero.mail.broker.url`` read as the consumer reads it (OMERO's config.xml under
OMERODIR, environment variables).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import tempfile
import threading

from events import topology as topo
from events.broker import Message, Publisher
from events.config import load
from events.schemas import Event, new_event

log = logging.getLogger(__name__)
_spool_lock = threading.Lock()


def _setting(name: str, default=None):
    from django.conf import settings

    return getattr(settings, name, default)


@functools.lru_cache(maxsize=1)
def _configured_url() -> str:
    return load()["omero.mail.broker.url"]


def broker_url() -> str:
    return _setting("OMERO_MAIL_BROKER_URL") or _configured_url()


def spool_path() -> str:
    return _setting("OMERO_MAIL_SPOOL") or os.path.join(tempfile.gettempdir(), "omero-mail-web-errors.jsonl")


def publish(data: dict) -> bool:
    """Publish one ``web.error``; False (and the event spooled) if the broker did not confirm it."""
    event = new_event("web.error", data, source=f"omero-web@{socket.gethostname()}")
    try:
        with Publisher(broker_url(), timeout=float(_setting("OMERO_MAIL_PUBLISH_TIMEOUT", 2.0)), attempts=1,
                       name="omero-web") as publisher:
            publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
        return True
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the request goes on
        spool(event, str(exc))
        return False


def spool(event: Event, reason: str) -> None:
    path = spool_path()
    try:
        with _spool_lock, open(path, "ab") as spool_file:
            spool_file.write(event.to_json() + b"\n")
    except OSError as exc:
        log.error("web.error event %s lost: not published (%s) and not spooled to %s (%s)",
                  event.id, reason, path, exc.strerror)
        return
    log.warning("web.error event %s spooled to %s: not published (%s)", event.id, path, reason)
