"""How every omero-mail connection to RabbitMQ is opened, and how it is named in messages.

One place reads ``omero.mail.broker.url``, a list of node addresses (several URLs, or one
URL naming several hosts, see :func:`addresses`), into one set of pika connection
parameters per node; sets what every connection shares (a name RabbitMQ shows, a bounded
wait when a resource alarm blocks publishing, one attempt per node per call: the callers
retry); hides the password; boils a pika error down to the few words a log line needs; and
tells a refused login (which no retry mends) from an outage.
pika tries the nodes in the order given (``BlockingConnection`` with a list, or
``SelectConnection.create_connection``), so the first node that answers is used.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pika
from pika.exceptions import (AuthenticationError, ConnectionClosedByBroker, ProbableAccessDeniedError,
                             ProbableAuthenticationError)

from .errors import BrokerError

#: Where one URL ends and the next begins: a comma or white space before a scheme.
_NEXT_URL = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_URL = re.compile(r"^(?P<scheme>[^:/?#]+)://(?:(?P<userinfo>[^@/?#]*)@)?(?P<hosts>[^/?#]*)(?P<rest>.*)$")
SCHEMES = ("amqp", "amqps")


def addresses(url: str) -> list[str]:
    """One single-node URL per node of ``url``, in its order; BrokerError on a bad list.

    ``url`` is one or more AMQP URLs, separated by commas or white space, each naming one
    host or several (``amqp://user:pass@rabbit1,rabbit2:5673,rabbit3/%2F``: every host
    with the same user, password, vhost and options).
    """
    text = url.strip()
    if not text:
        raise BrokerError("omero.mail.broker.url is empty: give one or more amqp:// addresses")
    found = []
    for chunk in _NEXT_URL.split(text):
        match = _URL.match(chunk.strip().rstrip(","))
        if match is None or match["scheme"].lower() not in SCHEMES:
            raise BrokerError(f"omero.mail.broker.url: {_hide(chunk)!r} is not an amqp:// or amqps:// URL")
        userinfo = f"{match['userinfo']}@" if match["userinfo"] is not None else ""
        for host in match["hosts"].split(","):
            single = f"{match['scheme']}://{userinfo}{host.strip()}{match['rest']}"
            _check(single, host.strip(), chunk)
            found.append(single)
    return found


def _check(single: str, host: str, chunk: str) -> None:
    problem = None
    if not host:
        problem = "an empty host (two commas, or a comma at the end?)"
    else:
        try:
            _port = urlsplit(single).port  # read for its ValueError on a port that is not a number
            pika.URLParameters(single)
        except (ValueError, TypeError, AttributeError) as exc:
            problem = " ".join(str(exc).split()) or type(exc).__name__
    if problem:
        raise BrokerError(f"omero.mail.broker.url: {_hide(chunk)!r}: {problem}")


def _hide(text: str) -> str:
    from ..config import redact
    return redact(text.strip())


def _one(url: str) -> str:
    params = pika.URLParameters(url)
    user = getattr(params.credentials, "username", "")
    vhost = quote(params.virtual_host, safe="")
    return f"amqp{'s' if params.ssl_options else ''}://{user}:********@{params.host}:{params.port}/{vhost}"


def redacted(url: str) -> str:
    """The broker URL, every node of it, with the password hidden, for logs and errors."""
    try:
        nodes = addresses(url)
    except BrokerError:
        return _hide(url)
    if len(nodes) == 1:
        return _one(nodes[0])
    return "[" + ", ".join(_one(node) for node in nodes) + "]"


def node(params: pika.connection.Parameters) -> str:
    """The node a connection was made to, as ``host:port``."""
    return f"{params.host}:{params.port}"


def parameters(url: str, *, heartbeat: int | None = None, name: str = "omero-mail",
               blocked_timeout: float = 60.0) -> list[pika.URLParameters]:
    """Connection parameters for each node of ``url``, in order; BrokerError on a bad list."""
    found = []
    for single in addresses(url):
        params = pika.URLParameters(single)
        if heartbeat is not None:
            params.heartbeat = heartbeat
        # A broker alarm (memory, disk) blocks publishers; give up after a while instead of hanging.
        params.blocked_connection_timeout = blocked_timeout
        params.connection_attempts = 1
        params.socket_timeout = 10
        params.client_properties = {"connection_name": name}
        found.append(params)
    return found


#: RabbitMQ's 403 ACCESS_REFUSED (user or password) and 530 NOT_ALLOWED (the virtual host) at connect.
REFUSED_CODES = (403, 530)


def _causes(exc: BaseException):
    """``exc`` and what pika wrapped in it, outermost first (the last node tried, the handshake's error)."""
    for _ in range(6):
        yield exc
        inner = (getattr(exc, "exceptions", None) or [None])[-1] or getattr(exc, "exception", None)
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            return
        exc = inner


def describe(exc: BaseException) -> str:
    """The root cause of a pika error in a few words ("Connection refused")."""
    *_, exc = _causes(exc)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:300]


def refused_login(exc: BaseException) -> bool:
    """RabbitMQ refused the login (a wrong password, an unknown user, a virtual host it may not
    open): the same answer on every node and every attempt, so trying again is pointless."""
    return any(isinstance(cause, (ProbableAuthenticationError, ProbableAccessDeniedError, AuthenticationError))
               or (isinstance(cause, ConnectionClosedByBroker) and cause.reply_code in REFUSED_CODES)
               for cause in _causes(exc))
