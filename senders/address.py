"""Which recipient addresses are sent to: what OMERO's JavaMail accepts, minus what is unsafe.

OMERO checks an experimenter's email with ``new InternetAddress(email).validate()``
(``ome.services.mail.MailUtil.validateEmail``), so an address with a display name,
``Alice Admin <alice@example.org>``, is mailed. Here too: a recipient is a plain
addr-spec or ``Name <addr-spec>``, the name quoted or not. Refused, although JavaMail
takes them: any control character (a line break could start a header), a quoted local
part, a domain literal, a route, non-ASCII in the address (which needs SMTPUTF8), and
an unquoted name with RFC 822 specials, which can be read as more than one address.
"""

from __future__ import annotations

import re

_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
#: RFC 822's specials but the dot, which JavaMail lets through in a name ("J. Smith").
_SPECIALS = re.compile(r'[()<>,;:\\"\[\]@]')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def is_valid_address(address: str) -> bool:
    """A plain ASCII addr-spec (no display name, no comment, no line break, no SMTPUTF8)."""
    return isinstance(address, str) and 0 < len(address) <= 254 and bool(_ADDRESS.fullmatch(address))


def split_recipient(value: str) -> tuple[str, str] | None:
    """``addr`` -> ("", addr); ``Name <addr>`` -> (name, addr); None if not sent to."""
    if not isinstance(value, str) or _CONTROL.search(value):
        return None
    value = value.strip()
    if is_valid_address(value):
        return "", value
    if not value.endswith(">") or "<" not in value:
        return None
    name, _, address = value[:-1].rpartition("<")
    name = name.strip()
    if not is_valid_address(address):
        return None
    quoted = _QUOTED.fullmatch(name)
    if quoted:
        return re.sub(r"\\(.)", r"\1", quoted.group(1)), address
    if _SPECIALS.search(name):
        return None
    return name, address


def is_valid_recipient(value: str) -> bool:
    return split_recipient(value) is not None


def envelope_address(value: str) -> str:
    """The addr-spec SMTP's RCPT TO takes for a recipient (the value itself if it is none)."""
    parts = split_recipient(value)
    return parts[1] if parts else value
