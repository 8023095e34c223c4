"""Write every message to standard output: for trying rules without any mail server."""

from __future__ import annotations

import sys
import threading

from .base import Envelope, Refused, Transport

_lock = threading.Lock()


class ConsoleTransport(Transport):
    def send(self, envelope: Envelope) -> Refused:
        text = envelope.data.decode("utf-8", "replace").replace("\r\n", "\n")
        with _lock:
            sys.stdout.write(f"--- mail to {', '.join(envelope.recipients)}\n{text}\n")
            sys.stdout.flush()
        return {}
