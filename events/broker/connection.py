"""How every omero-mail connection to RabbitMQ is opened, and how it is named in messages.

One place sets the connection parameters (a name RabbitMQ shows, a bounded wait when a
resource alarm blocks publishing, one attempt per call: the callers retry), hides the
password of a broker URL, and boils a pika error down to the few words a log line needs.
"""

from __future__ import annotations

from urllib.parse import quote

import pika


def redacted(url: str) -> str:
    """The broker URL with its password hidden, for logs and errors."""
    params = pika.URLParameters(url)
    creds = params.credentials
    user = getattr(creds, "username", "")
    vhost = quote(params.virtual_host, safe="")
    return f"amqp{'s' if params.ssl_options else ''}://{user}:********@{params.host}:{params.port}/{vhost}"


def parameters(url: str, *, heartbeat: int | None = None, name: str = "omero-mail",
               blocked_timeout: float = 60.0) -> pika.URLParameters:
    params = pika.URLParameters(url)
    if heartbeat is not None:
        params.heartbeat = heartbeat
    # A broker alarm (memory, disk) blocks publishers; give up after a while instead of hanging.
    params.blocked_connection_timeout = blocked_timeout
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.client_properties = {"connection_name": name}
    return params


def describe(exc: BaseException) -> str:
    """The root cause of a pika error in a few words ("Connection refused")."""
    for _ in range(5):
        inner = (getattr(exc, "exceptions", None) or [None])[-1] or getattr(exc, "exception", None)
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            break
        exc = inner
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]
