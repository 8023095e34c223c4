"""The shape of a transport (``omero.mail.bean``): open, send one message, close.

Modelled on Django's mail backends. A transport is built from the properties, keeps
whatever connection it needs between messages, and reports per message what the
delivery stage needs to decide between done, a retry and the parking lot: it returns the
recipients refused while others were accepted (each with the server's reply, whose first
digit says 4xx = try again, 5xx = never), and raises :class:`TransientError` (try again
later) or :class:`PermanentError` (never will work) when nobody got the message. A new
transport is a subclass with ``send``; register it under the entry point group
``omero_mail.transports`` or name it as ``module:Class`` in ``omero.mail.bean``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from events.settings import Settings

#: Recipients refused while the others were accepted: address -> the SMTP reply, e.g.
#: ``{"bob@example.org": "550 5.1.1 No such user"}``; empty when everyone was accepted.
Refused = dict[str, str]


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

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Transport":
        """Built from the properties, which a site's transport reads itself (``self.props``)."""
        return cls(settings.props)

    def open(self) -> None:
        """Prepare to send (connect, log in). Called lazily by :meth:`send` if needed."""

    def close(self) -> None:
        """Release the connection. Safe to call twice."""

    def send(self, envelope: Envelope) -> Refused:
        """Send one message; return the recipients refused while the others were accepted.

        Raise :class:`TransientError` or :class:`PermanentError` when no recipient got it.
        """
        raise NotImplementedError

    def __enter__(self) -> "Transport":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
