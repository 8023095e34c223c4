"""The chaos run's SMTP server: aiosmtpd in the chaos process, misbehaving on the schedule's cue.

Each transaction is recorded in the history whatever happens to it: its Message-ID,
subject, envelope recipients, the reply, and whether the server kept the mail. While a
misbehaviour is on (:meth:`ChaosHandler.misbehave`), each transaction meets it with its
probability:

- ``4xx``: ``451`` to DATA, so the mail is retried;
- ``5xx``: ``550`` to a recipient at RCPT, so that recipient's mail is parked in
  ``omero.mail.failed`` (the end of the run replays it);
- ``hang``: no answer to DATA for longer than the client waits; one time in two the mail
  is kept all the same (an MTA that had queued it before it stalled), else it is lost with
  the connection. A kept one is sent again by the client: a duplicate, which must carry
  the same Message-ID;
- ``drop``: the connection is closed at DATA without a reply.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from email import message_from_bytes, policy

from consumer.admin.sink import Sink

from .history import History, Transaction

MISBEHAVIOURS = ("4xx", "5xx", "hang", "drop")
#: Longer than the client's ``omero.mail.smtp.timeout`` (site.py sets 3 s).
HANG_SECONDS = 4.5
OBJECT_LINE = re.compile(r"^class (\S+):(\d+) - (\w+)$", re.MULTILINE)


def body_key(text: str) -> str:
    """The ``class <name>:<id> - <ACTION>`` line of an object mail's body, or ""."""
    found = OBJECT_LINE.search(text)
    return found.group(0) if found else ""


class ChaosHandler:
    def __init__(self, history: History, seed: int):
        self.history = history
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        #: misbehaviour -> probability, while it is on.
        self._on: dict[str, float] = {}

    def misbehave(self, kind: str, probability: float) -> None:
        with self._lock:
            self._on[kind] = probability

    def behave(self, kind: str | None = None) -> None:
        """Stop one misbehaviour, or all of them."""
        with self._lock:
            if kind is None:
                self._on.clear()
            else:
                self._on.pop(kind, None)

    def _meets(self, kind: str) -> bool:
        with self._lock:
            probability = self._on.get(kind)
            return probability is not None and self._random.random() < probability

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self._meets("5xx"):
            reply = "550 5.1.1 chaos: mailbox unavailable"
            self.history.saw(Transaction(time.time(), envelope.mail_from or "", [address], "", "", "", reply, False))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content.encode("utf-8") if isinstance(content, str) else content
        message = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else ""

        def record(reply: str, delivered: bool) -> None:
            self.history.saw(Transaction(time.time(), envelope.mail_from or "", [r.lower() for r in envelope.rcpt_tos],
                                         str(message.get("Message-ID", "")), str(message.get("Subject", "")),
                                         body_key(text), reply, delivered))

        if self._meets("4xx"):
            record("451 4.3.0 chaos: try again later", False)
            return "451 4.3.0 chaos: try again later"
        if self._meets("drop"):
            record("dropped at DATA", False)
            server.transport.abort()
            return "421 4.4.2 chaos: dropped"
        if self._meets("hang"):
            # Recorded now: the client gives up waiting and closes, which cancels this handler.
            kept = self._random.random() < 0.5
            record("250 after a hang (kept)" if kept else "dropped after a hang", kept)
            await asyncio.sleep(HANG_SECONDS)
            server.transport.abort()
            return "250 OK, late" if kept else "421 4.4.2 chaos: dropped"
        record("250 OK", True)
        return "250 Message accepted for delivery"


def start_server(history: History, seed: int, port: int) -> tuple[Sink, ChaosHandler]:
    handler = ChaosHandler(history, seed)
    return Sink(port=port, handler=handler).start(), handler
