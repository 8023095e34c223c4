"""One email to send: the unit of the outbox queue (one message = one email).

A :class:`Mail` is plain data. The rules stage makes it, the delivery stage builds its
bytes and hands them to a transport; the parking lot and the replay tool show it. Its
``message_id`` is derived from (event id, sender, recipient), so every attempt and every
replay of the same email carries the same Message-ID.

``to`` is the To header's list: one address, or several separated by commas for the one
email Django's ``mail_admins`` addresses to every OMERO.web admin (its Message-ID then
derived from the sorted list, :func:`recipient_list`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field, fields
from email.utils import parseaddr

from .address import envelope_address


def message_id(event_id: str, sender: str, recipient: str, domain: str) -> str:
    # The recipient exactly as given: OMERO mails two addresses that differ only in case (or
    # in a display name) twice, and each mail needs its own Message-ID to be counted.
    digest = hashlib.sha256(f"{event_id}\0{sender}\0{recipient}".encode()).hexdigest()[:32]
    return f"<{digest}@{domain or 'omero-mail'}>"


def recipient_list(addresses) -> str:
    """Several To addresses as one ``to`` value: ``a@example.org, b@example.org``."""
    return ", ".join(addresses)


def split_recipients(to: str) -> list[str]:
    """``to`` back into its addresses; a comma inside a quoted display name separates nothing.

    Every single recipient ``senders/address.py`` accepts comes back whole, so a ``to``
    of one address is read exactly as before; each part is checked again when built.
    """
    if "," not in to:
        return [to.strip()]  # one address, the usual case (a quote only matters around a comma)
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in to:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


@functools.lru_cache(maxsize=64)
def _address_of(mail_from: str) -> str:
    """The address of a From value; cached, as every email of a site has one of a few."""
    return parseaddr(mail_from)[1]


@dataclass(frozen=True)
class Mail:
    message_id: str
    event_id: str
    event_type: str
    sender: str
    mail_from: str
    to: str
    subject: str
    text: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    #: Extra headers (name -> value), e.g. OMERO's X- headers; values are checked like the rest.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def mail_from_address(self) -> str:
        """The envelope sender: the address of ``mail_from`` (which may be ``Name <addr>``)."""
        return _address_of(self.mail_from)

    @property
    def to_addresses(self) -> list[str]:
        return split_recipients(self.to)

    @property
    def recipients(self) -> list[str]:
        """The SMTP envelope: To, then Cc, then Bcc (Bcc never appears in a header), names left out."""
        seen: dict[str, None] = {}
        for address in (*self.to_addresses, *self.cc, *self.bcc):
            if address:
                seen.setdefault(envelope_address(address), None)
        return list(seen)

    def to_json(self) -> bytes:
        # What dataclasses.asdict gives for these fields (tuples become lists), without its deep
        # copy of every value: that copy was a third of the rules stage's CPU in a broadcast.
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes | str) -> "Mail":
        data = json.loads(body)
        for key in ("cc", "bcc"):
            data[key] = tuple(data.get(key) or ())
        return cls(**{k: v for k, v in data.items() if k in _KNOWN})


#: The fields of a Mail in their order, as its JSON carries them.
_FIELDS = tuple(f.name for f in fields(Mail))
_KNOWN = frozenset(_FIELDS)
