"""The benchmark's SMTP sink: a separate process that accepts everything and remembers
when each Message-ID arrived (for latency), answering over a pipe."""

from __future__ import annotations

import multiprocessing
import re
import threading
import time
from typing import Callable

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[tuple[str, float]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        match = _MESSAGE_ID.search(envelope.content[:4096])
        with self.lock:
            self.accepted.append((match.group(1).decode() if match else "", time.time()))
        return "250 OK"


def _serve(port: int, control) -> None:
    handler = _Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    control.send("ready")
    while True:
        command = control.recv()
        with handler.lock:
            if command == "count":
                control.send(len(handler.accepted))
            elif command == "take":
                control.send(handler.accepted)
                handler.accepted = []
            elif command == "stop":
                break
    controller.stop()


class SinkProcess:
    def __init__(self, port: int):
        self.port = port
        self._control, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(port, child), name="bench-sink", daemon=True)

    def start(self) -> "SinkProcess":
        self.process.start()
        if self._control.recv() != "ready":
            raise RuntimeError("the sink did not start")
        return self

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def reset(self) -> None:
        """Forget what was accepted so far (``count()`` starts again at 0)."""
        self.take()

    def count(self) -> int:
        self._control.send("count")
        return self._control.recv()

    def take(self) -> list[tuple[str, float]]:
        """Every (Message-ID, accepted at) since the last take; the list starts again."""
        self._control.send("take")
        return self._control.recv()

    def wait_for(self, count: int, timeout: float = 600.0, poll: float = 0.02) -> float:
        """Block until ``count`` messages were accepted; return the time.time() of the last check."""
        return wait_for_count(self.count, count, timeout, poll, "the sink")

    def stop(self) -> None:
        self._control.send("stop")
        self.process.join(10)


def wait_for_count(count: Callable[[], int], wanted: int, timeout: float, poll: float, name: str) -> float:
    """Poll ``count()`` until it reaches ``wanted``; the time.time() of the last check. Both sinks wait so."""
    deadline = time.monotonic() + timeout
    while count() < wanted:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} got {count()} of {wanted} messages in {timeout:.0f}s")
        time.sleep(poll)
    return time.time()
