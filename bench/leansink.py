"""A lean SMTP sink for the benchmark only: so that the sink is not the ceiling.

An asyncio protocol in a process of its own that answers EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP and QUIT, counts the messages and discards them; no parsing beyond the command
verb and the end of DATA. The count is a shared integer the benchmark reads without a
round trip. The tests keep aiosmtpd (``bench/sink.py`` for the other figures).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.sharedctypes
import signal
from typing import Any

from .sink import wait_for_count

_END = b"\r\n.\r\n"
_REPLIES = {
    b"EHLO": b"250-lean\r\n250 8BITMIME\r\n", b"HELO": b"250 lean\r\n", b"MAIL": b"250 OK\r\n",
    b"RCPT": b"250 OK\r\n", b"RSET": b"250 OK\r\n", b"NOOP": b"250 OK\r\n", b"DATA": b"354 End with .\r\n",
}


class _Session(asyncio.Protocol):
    def __init__(self, counter: Any):
        self.counter = counter
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 lean ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        buffer = self.buffer + data
        replies = []
        while True:
            if self.in_data:
                end = buffer.find(_END)
                if end < 0:
                    buffer = buffer[-4:]  # enough to find an end split across two reads
                    break
                buffer = buffer[end + len(_END):]
                self.in_data = False
                self.counter.value += 1
                replies.append(b"250 OK queued\r\n")
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                break
            verb, buffer = buffer[:4].upper(), buffer[end + 2:]
            if verb == b"QUIT":
                replies.append(b"221 Bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            replies.append(_REPLIES.get(verb, b"502 Command not implemented\r\n"))
            if verb == b"DATA":
                self.in_data = True
                buffer = b"\r\n" + buffer  # the end may follow at once: an empty body
        self.buffer = buffer
        if replies:
            self.transport.write(b"".join(replies))


def _serve(port: int, counter: Any, ready: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: _Session(counter), "127.0.0.1", port))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    ready.set()
    loop.run_forever()
    server.close()


class LeanSink:
    """The lean sink's process: ``count()``, ``reset()``, ``wait_for()`` as the aiosmtpd sink's."""

    def __init__(self, port: int):
        self.port = port
        self.counter = multiprocessing.sharedctypes.RawValue("q", 0)
        self._ready = multiprocessing.Event()
        self.process = multiprocessing.Process(target=_serve, args=(port, self.counter, self._ready),
                                               name="bench-lean-sink", daemon=True)

    def start(self) -> "LeanSink":
        self.process.start()
        if not self._ready.wait(30):
            raise RuntimeError("the lean sink did not start")
        return self

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def count(self) -> int:
        return int(self.counter.value)

    def reset(self) -> None:
        self.counter.value = 0

    def wait_for(self, count: int, timeout: float = 600.0, poll: float = 0.02) -> float:
        """Block until ``count`` messages were accepted; return the time.time() of the last check."""
        return wait_for_count(self.count, count, timeout, poll, "the lean sink")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)
