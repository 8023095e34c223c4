"""SMTP, configured by OMERO's ``omero.mail.*`` properties (README, "Configuration").

One connection is opened lazily, reused for every message, and reopened once when the
server has dropped it. TLS is decided in one place: implicit TLS when
``omero.mail.transport.protocol`` is ``smtps`` or the socket factory is
``javax.net.ssl.SSLSocketFactory`` (OMERO's port-465 recipe), STARTTLS when
``omero.mail.smtp.starttls.enable`` is true. A server that does not offer STARTTLS when
it is required is an error, never a silent downgrade. Certificates and host names are
verified unless ``omero.mail.smtp.ssl.verify`` is false. Login happens only with
``omero.mail.smtp.auth`` true, as in JavaMail, whatever the username.
``omero.mail.smtp.socketFactory.fallback=true`` (JavaMail: a plain socket when the TLS
one fails) is refused at start: mail and password would go out in clear text. The
properties arrive typed and checked (:class:`events.settings.SMTPSettings`).
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from typing import Mapping

from events.settings import Settings, SMTPSettings

from .base import Envelope, PermanentError, Refused, TransientError, Transport

log = logging.getLogger(__name__)


class _QuietSMTP(smtplib.SMTP):
    """smtplib's debug trace, sent to the log with credentials cut out."""

    def _print_debug(self, *args):
        log.debug("smtp: %s", _scrub(" ".join(str(a) for a in args)))


class _QuietSMTPSSL(smtplib.SMTP_SSL):
    def _print_debug(self, *args):
        log.debug("smtp: %s", _scrub(" ".join(str(a) for a in args)))


_VERBS = ("EHLO", "HELO", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP", "STARTTLS", "VRFY")


def _scrub(line: str) -> str:
    """Hide credentials: AUTH's argument and the bare base64 lines of AUTH LOGIN."""
    match = re.match(r"send: '([A-Za-z]+)", line)
    if not match:
        return line
    verb = match.group(1).upper()
    if verb == "AUTH":
        return re.sub(r"(AUTH\s+\S+).*", r"\1 ********'", line, flags=re.I)
    return line if verb in _VERBS else "send: '********'"


class SMTPTransport(Transport):
    def __init__(self, settings: SMTPSettings):
        self.host = settings.host
        self.implicit_tls = settings.implicit_tls
        self.port = settings.port
        self.starttls = settings.starttls
        self.auth = settings.auth
        self.username = settings.username
        self.password = settings.password
        self.connect_timeout = settings.connect_timeout
        self.timeout = settings.timeout
        self.debug = settings.debug
        self.verify = settings.verify
        self.cafile = settings.cafile
        self._smtp: smtplib.SMTP | None = None
        self.connections_opened = 0
        self.messages_sent = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> "SMTPTransport":
        return cls(settings.smtp)

    # -- connection ----------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> None:
        if self._smtp is not None:
            return
        where = f"{self.host}:{self.port}"
        smtp: smtplib.SMTP
        try:
            if self.implicit_tls:
                smtp = _QuietSMTPSSL(self.host, self.port, timeout=self.connect_timeout, context=self.ssl_context())
            else:
                smtp = _QuietSMTP(self.host, self.port, timeout=self.connect_timeout)
            if self.debug:
                smtp.set_debuglevel(1)
            if smtp.sock is not None:
                smtp.sock.settimeout(self.timeout)
            if self.starttls and not self.implicit_tls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise TransientError(f"SMTP server {where} does not offer STARTTLS, "
                                         "which omero.mail.smtp.starttls.enable requires")
                smtp.starttls(context=self.ssl_context())
                smtp.ehlo()
            if self.auth:
                smtp.login(self.username, self.password.reveal())
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientError(f"SMTP login to {where} as {self.username!r} refused: {exc.smtp_code}") from None
        except ssl.SSLError as exc:
            raise TransientError(f"TLS with SMTP server {where} failed: {exc.reason or exc}") from None
        except smtplib.SMTPException as exc:
            raise TransientError(f"SMTP server {where}: {_reply(exc)}") from None
        except (OSError, socket.timeout) as exc:
            raise TransientError(f"cannot connect to SMTP server {where}: {exc.strerror or exc}") from None
        self._smtp = smtp
        self.connections_opened += 1

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    # -- sending -----------------------------------------------------------------------
    def send(self, envelope: Envelope) -> Refused:
        """Send one message; return the recipients refused when others were accepted."""
        for attempt in (1, 2):
            reused = self._smtp is not None
            smtp = self._connection()
            try:
                refused = smtp.sendmail(envelope.mail_from, list(envelope.recipients), envelope.data)
                self.messages_sent += 1
                return _replies(refused)
            except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                # A reused connection the server has dropped (idle timeout): open a new one, once.
                self.close()
                if attempt == 2 or not reused:
                    raise TransientError(f"SMTP server {self.host}:{self.port} closed the connection: {exc}") from None
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset()
                replies = _replies(exc.recipients)
                error = PermanentError if all(code >= 500 for code, _ in exc.recipients.values()) else TransientError
                reason = "; ".join(f"{rcpt}: {reply}" for rcpt, reply in replies.items())
                raise error(f"recipient refused: {reason}", replies) from None
            except smtplib.SMTPResponseException as exc:
                self._reset()
                error = PermanentError if _permanent(exc.smtp_code) else TransientError
                raise error(f"SMTP server refused the message: {_reply(exc)}") from None
            except (OSError, smtplib.SMTPException) as exc:
                self.close()
                raise TransientError(f"SMTP error: {exc}") from None
        raise AssertionError("unreachable")

    def _connection(self) -> smtplib.SMTP:
        self.open()
        if self._smtp is None:
            raise AssertionError("open() returned without a connection")
        return self._smtp

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()


#: 5xx replies that refuse the client, not the message (TLS or login required or failed):
#: fixed by configuration, so retried rather than parked at once.
_CLIENT_REFUSED = frozenset({530, 534, 535, 538})


def _replies(recipients: Mapping[str, tuple[int, bytes]]) -> Refused:
    """smtplib's refused recipients as the transport contract has them: ``"550 reason"`` each."""
    return {rcpt: f"{code} {msg.decode('utf-8', 'replace')}" for rcpt, (code, msg) in recipients.items()}


def _permanent(code: int) -> bool:
    return code >= 500 and code not in _CLIENT_REFUSED


def _reply(exc: smtplib.SMTPException) -> str:
    code = getattr(exc, "smtp_code", None)
    text = getattr(exc, "smtp_error", b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip() if code else str(exc)
