"""Deliver into a Maildir folder (``omero.mail.maildir.path``) instead of over SMTP.

A development or audit sink: each message is one file under ``new/``, readable with
any mail client (``mutt -f var/mail``) or plain ``cat``.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from .base import Envelope, Refused, TransientError, Transport


class MaildirTransport(Transport):
    def open(self) -> None:
        if getattr(self, "_box", None) is None:
            path = Path(self.props.get("omero.mail.maildir.path") or "var/mail")
            self._box = mailbox.Maildir(path, create=True)

    def send(self, envelope: Envelope) -> Refused:
        self.open()
        try:
            self._box.add(envelope.data)
        except OSError as exc:
            raise TransientError(f"cannot write to Maildir: {exc.strerror}") from None
        return {}
