"""Turn a :class:`~senders.mail.Mail` into the bytes an SMTP server accepts.

Written by hand rather than with ``email.message.EmailMessage`` because building costs
more than sending (README, "Performance"): a broadcast repeats one subject and body
thousands of times, so their encoded forms are cached and only To and Message-ID vary.

It is also where header injection is stopped: an address must be a plain addr-spec
(a recipient may have a display name, see ``senders/address.py``), and a control character
(CR, LF, ...) in any header text becomes a space before the value is encoded, so no value
can start a header, a recipient or a body part.
"""

from __future__ import annotations

import functools
import hashlib
import quopri
import re
import time
from email.header import Header
from email.utils import formatdate, parseaddr

from .address import is_valid_address, split_recipient
from .mail import Mail


class UnsafeMail(ValueError):
    """A mail that must not be sent as it is (an invalid address, a bad header name)."""


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MAX_LINE = 998
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>")
#: Characters 7bit text may not carry (everything below space but tab and line feed).
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check_address(address: str, role: str = "address") -> str:
    if not is_valid_address(address):
        raise UnsafeMail(f"invalid {role} {address[:80]!r}")
    return address


def recipient(value: str) -> str:
    """A recipient as a header value: ``addr``, or ``Name <addr>`` with the name quoted or encoded."""
    parts = split_recipient(value)
    if parts is None:
        raise UnsafeMail(f"invalid recipient address {value[:80]!r}")
    name, address = parts
    if not name:
        return address
    return f"{encode_header(name) if not name.isascii() else _quoted(name)} <{address}>"


def clean_text(value: str) -> str:
    """Header text with every control character (CR and LF included) made a space."""
    return _CONTROL.sub(" ", value).strip()


@functools.lru_cache(maxsize=256)
def encode_header(value: str) -> str:
    """RFC 2047 where needed, folded to fit the line limit, never with a bare CR/LF."""
    value = clean_text(value)
    if value.isascii() and len(value) < 900:
        return value
    if value.isascii():
        folded = Header(value, "us-ascii", maxlinelen=76).encode(linesep="\r\n")
        if all(len(line) < 900 for line in folded.split("\r\n")):
            return folded
    # Non-ASCII, or a word too long to fold: encoded words, which split anywhere.
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def split_mailbox(value: str) -> tuple[str, str]:
    """``Name <addr>`` -> (name, addr); a bare ``addr`` -> ("", addr).

    Stricter than ``email.utils.parseaddr``, which takes an address out of the display
    name of ``Eve x@evil.example <omero@example.org>``: here the address is what the
    angle brackets at the end hold, and the name is all the text before them.
    """
    value = clean_text(value)
    if value.endswith(">") and "<" in value:
        name, _, address = value[:-1].rpartition("<")
        return name.strip().strip('"').strip(), address.strip()
    return "", value


@functools.lru_cache(maxsize=64)
def mailbox(value: str) -> str:
    """``Name <addr>`` or ``addr`` as a header value, the name encoded, the address checked."""
    name, address = split_mailbox(value)
    check_address(address, "sender address")
    if parseaddr(value)[1] != address:
        # The envelope sender is parseaddr's reading (Mail.mail_from_address): both must agree.
        raise UnsafeMail(f"ambiguous sender {clean_text(value)[:80]!r}")
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
    if (text.isascii() and not _BODY_CONTROL.search(text)
            and all(len(line) <= _MAX_LINE for line in text.split("\n"))):
        encoding, payload = "7bit", raw.replace(b"\n", b"\r\n")
    else:
        encoding = "quoted-printable"
        payload = quopri.encodestring(raw).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    # JavaMail's MimeMessage.setText: us-ascii for ASCII text, else the default charset (UTF-8).
    charset = "us-ascii" if text.isascii() else '"utf-8"'
    head = (f"Content-Type: {content_type}; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode("ascii")
    return head + payload


def _boundary(mail: Mail, *parts: bytes) -> str:
    """Derived from the content, so a part cannot contain it unless it contains its own hash;
    checked all the same."""
    seed = hashlib.sha256("\0".join((mail.message_id, mail.text, mail.html or "")).encode())
    while True:
        boundary = "==omero-mail-" + seed.hexdigest()[:24] + "=="
        if not any(boundary.encode() in part for part in parts):
            return boundary
        seed.update(b"\0")


def _message_id(value: str) -> str:
    if not _MESSAGE_ID.fullmatch(value):
        raise UnsafeMail(f"invalid Message-ID {value[:80]!r}")
    return value


@functools.lru_cache(maxsize=2)
def _date_of(second: int) -> str:
    return formatdate(second, usegmt=True)


def _date_now() -> str:
    """The Date header for now: formatted once a second, not once an email."""
    return _date_of(int(time.time()))


def build(mail: Mail, date: str | None = None) -> bytes:
    """The whole message as bytes with CRLF line ends. Raises UnsafeMail."""
    # Folded between addresses: a broadcast's Cc may name hundreds, and a line may not pass 998 octets.
    to = ",\r\n ".join(recipient(address) for address in mail.to_addresses)
    cc = [recipient(address) for address in mail.cc]
    for address in mail.bcc:
        recipient(address)
    headers = [
        f"From: {mailbox(mail.mail_from)}",
        f"To: {to}",
    ]
    if cc:
        headers.append("Cc: " + ",\r\n ".join(cc))
    headers += [
        f"Subject: {encode_header(mail.subject)}",
        f"Date: {date or _date_now()}",
        f"Message-ID: {_message_id(mail.message_id)}",
        "MIME-Version: 1.0",
    ]
    for name, value in mail.headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED:
            raise UnsafeMail(f"refusing header name {name[:40]!r}")
        headers.append(f"{name}: {encode_header(str(value))}")
    head = ("\r\n".join(headers) + "\r\n").encode("ascii")
    if not mail.html:
        return head + _body_part("text/plain", mail.text)
    text, html = _body_part("text/plain", mail.text), _body_part("text/html", mail.html)
    boundary = _boundary(mail, text, html)
    sep = f"--{boundary}\r\n".encode()
    return b"".join((
        head,
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
        sep, text,
        sep, html,
        f"--{boundary}--\r\n".encode(),
    ))


_RESERVED = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version",
                       "content-type", "content-transfer-encoding", "sender", "reply-to"})
