"""Turn a :class:`~senders.mail.Mail` into the bytes an SMTP server accepts.

Written by hand rather than with ``email.message.EmailMessage`` because building costs
more than sending (DESIGN.md's figures): a broadcast repeats one subject and body
thousands of times, so their encoded forms are cached and only To and Message-ID vary.

It is also where header injection is stopped: an address must be a plain addr-spec,
and a control character (CR, LF, ...) in any header text becomes a space before the
value is encoded, so no value can start a header, a recipient or a body part.
"""

from __future__ import annotations

import functools
import hashlib
import quopri
import re
from email.header import Header
from email.utils import formatdate, parseaddr

from .mail import Mail


class UnsafeMail(ValueError):
    """A mail that must not be sent as it is (an invalid address, a bad header name)."""


_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})*$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MAX_LINE = 998


def is_valid_address(address: str) -> bool:
    return bool(address) and len(address) <= 254 and bool(_ADDRESS.match(address))


def check_address(address: str, role: str = "address") -> str:
    if not is_valid_address(address):
        raise UnsafeMail(f"invalid {role} {address[:80]!r}")
    return address


def clean_text(value: str) -> str:
    """Header text with every control character (CR and LF included) made a space."""
    return _CONTROL.sub(" ", value).strip()


@functools.lru_cache(maxsize=256)
def encode_header(value: str) -> str:
    """RFC 2047 where needed, folded to fit the line limit, never with a bare CR/LF."""
    value = clean_text(value)
    if value.isascii() and len(value) < 900:
        return value
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, maxlinelen=76).encode(linesep="\r\n")


@functools.lru_cache(maxsize=64)
def mailbox(value: str) -> str:
    """``Name <addr>`` or ``addr`` as a header value, the name encoded, the address checked."""
    name, address = parseaddr(clean_text(value))
    check_address(address, "sender address")
    if not name:
        return address
    return f"{encode_header(name) if not name.isascii() else _quoted(name)} <{address}>"


def _quoted(name: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@functools.lru_cache(maxsize=64)
def _body_part(content_type: str, text: str) -> bytes:
    """Content headers and body of one text part, encoded once per distinct text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw = text.encode("utf-8")
    if text.isascii() and all(len(line) <= _MAX_LINE for line in text.split("\n")):
        encoding, payload = "7bit", raw.replace(b"\n", b"\r\n")
    else:
        encoding = "quoted-printable"
        payload = quopri.encodestring(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    head = (f"Content-Type: {content_type}; charset=\"utf-8\"\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode("ascii")
    return head + payload


def _boundary(mail: Mail) -> str:
    return "==omero-mail-" + hashlib.sha256((mail.message_id + mail.text).encode()).hexdigest()[:24] + "=="


def build(mail: Mail, date: str | None = None) -> bytes:
    """The whole message as bytes with CRLF line ends. Raises UnsafeMail."""
    check_address(mail.to, "recipient address")
    for address in (*mail.cc, *mail.bcc):
        check_address(address, "recipient address")
    headers = [
        f"From: {mailbox(mail.mail_from)}",
        f"To: {mail.to}",
    ]
    if mail.cc:
        headers.append("Cc: " + ", ".join(mail.cc))
    headers += [
        f"Subject: {encode_header(mail.subject)}",
        f"Date: {date or formatdate(usegmt=True)}",
        f"Message-ID: {clean_text(mail.message_id)}",
        "MIME-Version: 1.0",
    ]
    for name, value in mail.headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED:
            raise UnsafeMail(f"refusing header name {name[:40]!r}")
        headers.append(f"{name}: {encode_header(str(value))}")
    head = ("\r\n".join(headers) + "\r\n").encode("ascii")
    if not mail.html:
        return head + _body_part("text/plain", mail.text)
    boundary = _boundary(mail)
    sep = f"--{boundary}\r\n".encode()
    return b"".join((
        head,
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
        sep, _body_part("text/plain", mail.text),
        sep, _body_part("text/html", mail.html),
        f"--{boundary}--\r\n".encode(),
    ))


_RESERVED = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
                       "content-type", "content-transfer-encoding", "sender", "reply-to"})
