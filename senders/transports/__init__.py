"""Transports: how built messages leave (SMTP by default, a Maildir, the console).

``omero.mail.bean`` chooses one: OMERO's ``defaultMailSender`` and ``smtp`` mean SMTP;
otherwise a name registered under the entry point group ``omero_mail.transports``, or
``package.module:Class``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from events.settings import Settings

from .base import DeliveryError, Envelope, PermanentError, Refused, TransientError, Transport

ENTRY_POINT_GROUP = "omero_mail.transports"
_ALIASES = {"defaultMailSender": "smtp", "": "smtp"}

__all__ = ["DeliveryError", "Envelope", "PermanentError", "Refused", "TransientError", "Transport",
           "transport_class", "make_transport"]


class TransportConfigError(Exception):
    """``omero.mail.bean`` names nothing that can be loaded."""


def transport_class(bean: str) -> type[Transport]:
    name = _ALIASES.get(bean.strip(), bean.strip())
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise TransportConfigError(f"omero.mail.bean={bean!r}: cannot load ({exc})") from None
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            known = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
            raise TransportConfigError(
                f"omero.mail.bean={bean!r}: no such transport (known: {', '.join(known)}, or module:Class)")
        cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Transport)):
        raise TransportConfigError(f"omero.mail.bean={bean!r}: {cls!r} is not a Transport")
    return cls


def make_transport(settings: Settings) -> Transport:
    return transport_class(settings.bean).from_settings(settings)
