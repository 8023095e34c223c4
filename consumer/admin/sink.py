"""A local SMTP server that files every message it accepts into a Maildir.

``make run`` starts it so a fresh machine delivers without any mail server: mails land
under ``var/mail/new/``. The tests use the same class as their SMTP peer. It is built on
aiosmtpd and accepts anything; it is never meant to face a network.
"""

from __future__ import annotations

import mailbox
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope as SMTPEnvelope


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class MaildirHandler:
    """aiosmtpd handler: keep each message in memory and, if a path is given, in a Maildir."""

    maildir: Path | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._box = mailbox.Maildir(self.maildir, create=True) if self.maildir else None

    async def handle_DATA(self, server, session, envelope: SMTPEnvelope) -> str:
        # aiosmtpd calls this only after MAIL FROM and DATA: the sender and content are set.
        content = envelope.original_content or envelope.content or b""
        data = content.encode("utf-8") if isinstance(content, str) else content
        with self.lock:
            self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos), data))
            if self._box is not None:
                self._box.add(data)
        return "250 Message accepted for delivery"


class Sink:
    """Start/stop an aiosmtpd server on ``host:port`` that keeps what it accepts."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8025, maildir: str | Path | None = None,
                 handler=None, **controller_kwargs):
        self.handler = handler or MaildirHandler(Path(maildir) if maildir else None)
        self.controller = Controller(self.handler, hostname=host, port=port, **controller_kwargs)

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> "Sink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "Sink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
