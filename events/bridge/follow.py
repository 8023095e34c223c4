"""Following OMERO's ``var/log/Blitz-0.log`` as ``tail -F`` does, with a place that survives restarts.

OMERO's logback rolls ``Blitz-0.log`` to ``Blitz-0.log.1`` (and on, up to ``.9``) by size;
an admin's logrotate may instead copy and truncate it. The follower keeps the file it
reads open, so after a rename it finishes the old file before it opens the new one, and it
starts a file again from the top when it was truncated: when it shrank, or when the bytes
just before its place are no longer the ones it read there (truncated, then written past
the old length before the follower looked). Its place is the file's device, inode and
offset after the last whole line handed out, with those bytes; after a restart it finds
that file again, under its rotated name if need be, and reads on from there. A first start begins at the
current end of the log: old lines are history, not news.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import BinaryIO

from .errors import BridgeError
from .state import LogPosition

log = logging.getLogger(__name__)

#: How much one read takes at most: bounds memory when catching up on a large log.
READ_BYTES = 1 << 20
#: How many bytes before the place are kept to recognise the file (a log line is longer).
BEFORE_BYTES = 64


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class LogFollower:
    """Hands out the log's new whole lines; :attr:`position` is the place after them."""

    def __init__(self, path: Path, position: LogPosition | None):
        self.path = Path(path)
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._before = b""
        self._resume(position)

    @property
    def position(self) -> LogPosition | None:
        if self._identity is None:
            return None
        return LogPosition(self._identity[0], self._identity[1], self._offset, self._before.hex())

    def _resume(self, position: LogPosition | None) -> None:
        try:
            current = self.path.stat()
        except FileNotFoundError:
            log.info("waiting for %s to appear", self.path)
            return  # it will be read from its first line when it appears
        if position is None:
            self._open(self.path, current.st_size)
            return
        before = bytes.fromhex(position.before)
        if _identity(current) == (position.device, position.inode):
            self._open(self.path, position.offset, before)
            return
        for sibling in sorted(self.path.parent.glob(self.path.name + ".*")):
            try:
                if _identity(sibling.stat()) == (position.device, position.inode):
                    log.info("%s was rotated while the bridge was stopped: reading on in %s", self.path, sibling)
                    self._open(sibling, position.offset, before)
                    return
            except FileNotFoundError:
                continue
        log.warning("the log file the bridge last read was rotated away while it was stopped; "
                    "reading %s from its first line (lines in between may be missed)", self.path)
        self._open(self.path, 0)

    def _open(self, path: Path, offset: int, before: bytes = b"") -> None:
        self.close()
        try:
            handle = open(path, "rb")
        except OSError as exc:
            raise BridgeError(f"cannot read OMERO's log {path}: {exc.strerror} (run the bridge as a user of "
                              "OMERO's group, or set omero.mail.bridge.log empty to follow no log)") from None
        self._file, self._identity, self._offset = handle, _identity(os.fstat(handle.fileno())), offset
        if offset and not before:  # a first start at the end: remember what ends there
            handle.seek(max(0, offset - BEFORE_BYTES))
            before = handle.read(offset - handle.tell())
        self._before = before
        if self._truncated():
            log.info("%s was truncated since the bridge read it: reading from its first line", path)
            self._offset, self._before = 0, b""

    def _truncated(self) -> bool:
        """Shorter than the place, or other bytes before it than those read there."""
        assert self._file is not None
        if os.fstat(self._file.fileno()).st_size < self._offset:
            return True
        if not self._before:
            return False
        self._file.seek(self._offset - len(self._before))
        return self._file.read(len(self._before)) != self._before

    def read_lines(self) -> list[str]:
        """New whole lines (without their newline); an empty list when there are none yet."""
        if self._file is None:
            if not self.path.exists():
                return []
            self._open(self.path, 0)
        if self._truncated():
            log.info("%s was truncated: reading it again from its first line", self.path)
            self._offset, self._before = 0, b""
        lines = self._read_whole_lines()
        if lines:
            return lines
        # At the end of the file: has it been rotated under us?
        try:
            current = self.path.stat()
        except FileNotFoundError:
            return []
        if _identity(current) == self._identity:
            return []
        last = self._read_whole_lines(final=True)
        log.info("%s was rotated: following the new file", self.path)
        self._open(self.path, 0)
        return last + self._read_whole_lines()

    def _read_whole_lines(self, final: bool = False) -> list[str]:
        """Lines up to the last newline read; ``final``: the rest of a rotated file too.

        A chunk with no newline at all (a line longer than ``READ_BYTES``) is taken whole,
        so one giant line can never stall the follower.
        """
        assert self._file is not None
        self._file.seek(self._offset)
        data = self._file.read(-1 if final else READ_BYTES)
        end = len(data) if final or len(data) == READ_BYTES and b"\n" not in data else data.rfind(b"\n") + 1
        if end <= 0:
            return []
        self._offset += end
        self._before = (self._before + data[:end])[-BEFORE_BYTES:]
        return data[:end].decode("utf-8", "replace").splitlines()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = None
