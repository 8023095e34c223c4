"""A progress bar for long admin work (replay, purge, broadcast --wait) on a terminal.

On a terminal it redraws one line; elsewhere (a log, a pipe) it prints a line at most
every few seconds and at the end, so scripts still see progress without noise.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int | None, label: str, stream: TextIO | None = None, width: int = 30,
                 interval: float = 2.0):
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.interval = interval
        self.done = 0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._closed = False

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self._tty or now - self._last >= self.interval:
            self._last = now
            self._draw(final=False)

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._draw(final=True)

    def _draw(self, final: bool) -> None:
        if self.total:
            filled = int(self.width * min(self.done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
        else:
            bar = f"{self.done}"
        line = f"{self.label} {bar}"
        if self._tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
