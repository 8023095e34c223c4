"""The shape of a transport (``omero.mail.bean``): open, send one message, close.

Modelled on Django's mail backends. A transport is built from the properties, keeps
whatever connection it needs between messages, and raises :class:`TransientError` (try
again later) or :class:`PermanentError` (never will work) so the delivery stage can
decide between a retry and the parking lot. A new transport is a subclass with
``send``; register it under the entry point group ``omero_mail.transports`` or name it
as ``module:Class`` in ``omero.mail.bean``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Envelope:
    """What goes over the wire: envelope sender, envelope recipients, message bytes."""

    mail_from: str
    recipients: Sequence[str]
    data: bytes
    message_id: str = ""


class DeliveryError(Exception):
    """A message was not delivered. ``refused`` maps recipients to the server's reply."""

    permanent = False

    def __init__(self, reason: str, refused: Mapping[str, str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.refused = dict(refused or {})


class TransientError(DeliveryError):
    """Worth trying again later: connection refused or dropped, timeout, 4xx."""


class PermanentError(DeliveryError):
    """Will not work however often tried: 5xx, an invalid address."""

    permanent = True


class Transport:
    """Base transport. Subclasses implement :meth:`send`; open/close are optional."""

    def __init__(self, props: Mapping[str, str]):
        self.props = props

    def open(self) -> None:
        """Prepare to send (connect, log in). Called lazily by :meth:`send` if needed."""

    def close(self) -> None:
        """Release the connection. Safe to call twice."""

    def send(self, envelope: Envelope) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Transport":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
