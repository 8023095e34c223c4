"""Report a ``web.error`` event from the web process without ever holding the request.

:func:`publish` hands the event to the process's publisher thread
(:class:`~events.web.publisher.WebPublisher`) and returns at once. An event RabbitMQ has not
confirmed within ``OMERO_MAIL_PUBLISH_TIMEOUT`` (2 s) of its report, one reported while
``OMERO_MAIL_PUBLISH_QUEUE`` (1000) events already wait, and one that fails validation is
appended, one JSON line, to the spool file (``OMERO_MAIL_SPOOL``, ``events/web/spool.py``)
so it is not lost. ``omero-mail publish-spool FILE`` publishes a spool file's events later
and sets an invalid one aside.

Each process has its own publisher thread, started at its first report: a gunicorn worker
forked from a master that imported the site starts its own. The broker is
``OMERO_MAIL_BROKER_URL`` from Django's settings, else omero-mail's
``omero.mail.broker.url`` read as the consumer reads it (OMERO's config.xml under
OMERODIR, environment variables).
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timezone

from events.config import load
from events.schemas import InvalidEvent, new_event

from . import spool as spool_file
from .publisher import Pending, WebPublisher

log = logging.getLogger(__name__)
_lock = threading.Lock()
_running: WebPublisher | None = None
#: One line at a time: request threads (a full queue) and the publisher's threads all spool.
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
    return _setting("OMERO_MAIL_SPOOL") or spool_file.default_path()


def publish(data: dict) -> None:
    """Hand one ``web.error`` to the publisher thread; spool it when it cannot be published."""
    source = f"omero-web@{socket.gethostname()}"
    path = spool_path()
    try:
        event = new_event("web.error", data, source=source)
    except InvalidEvent as exc:
        event_id = str(uuid.uuid4())
        spool(Pending(event_id, _unvalidated(event_id, data, source), path), f"not a valid web.error: {exc}")
        return
    pending = Pending(event.id, event.to_json(), path)
    try:
        publisher = _publisher()
    except Exception as exc:  # noqa: BLE001 - a configuration that cannot be read costs the event nothing
        spool(pending, str(exc))
        return
    publisher.submit(pending)


def spool(pending: Pending, reason: str) -> None:
    try:
        with _spool_lock:
            spool_file.append(pending.spool_path, pending.body + b"\n")
    except OSError as exc:
        log.error("web.error event %s lost: not published (%s) and not spooled (%s)", pending.event_id, reason, exc)
        return
    log.warning("web.error event %s spooled to %s: not published (%s)", pending.event_id, pending.spool_path, reason)


def stop() -> None:
    """Stop this process's publisher thread (at exit): what still waits is spooled."""
    global _running
    with _lock:
        running, _running = _running, None
    if running is not None and running.pid == os.getpid():
        running.stop()


def _publisher() -> WebPublisher:
    """This process's publisher thread, started anew when the settings it was started with changed."""
    global _running
    wanted = (broker_url(), float(_setting("OMERO_MAIL_PUBLISH_TIMEOUT", 2.0)),
              int(_setting("OMERO_MAIL_PUBLISH_QUEUE", 1000)))
    with _lock:
        running = _running
        if running is not None and running.pid == os.getpid() and (
                running.url, running.timeout, running.capacity) == wanted:
            return running
        _running = WebPublisher(*wanted, spool=spool)
        started = _running
    if running is not None and running.pid == os.getpid():
        running.stop()
    return started


def _after_fork() -> None:
    """The parent's threads are not in a forked child, and its lock may have been held at the fork."""
    global _lock, _running, _spool_lock
    _lock, _spool_lock = threading.Lock(), threading.Lock()
    _running = None


def _unvalidated(event_id: str, data: dict, source: str) -> bytes:
    """The event as it would have been published, for ``publish-spool`` to park with its reason."""
    event = {"id": event_id, "type": "web.error", "occurred_at": datetime.now(timezone.utc).isoformat(),
             "source": source, "data": data}
    return json.dumps(event, separators=(",", ":"), default=str).encode()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(stop)
