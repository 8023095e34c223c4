"""Following OMERO's ``var/log/Blitz-0.log`` as ``tail -F`` does, with a place that survives restarts.

OMERO's logback rolls ``Blitz-0.log`` by renaming (``FixedWindowRollingPolicy``): ``.9``
is dropped, each ``.N`` becomes ``.N+1`` and the log becomes ``.1``. An admin's logrotate
may instead copy the log to ``.1`` and truncate it (``copytruncate``). Either way
``Blitz-0.log.N`` ... ``Blitz-0.log.1``, ``Blitz-0.log`` hold the log in order, oldest
first: the *chain*.

The follower's place is the end of the last line it handed out: that file's device and
inode, the offset, and the bytes just before it. Every read finds the place in the chain
again and reads on to the chain's end, so any number of rollings, while the bridge runs
or while it is stopped, are read in order. The place is found in the file with that inode
whose bytes before the offset are still those, else in any file of the chain holding
those bytes there (the copy a copytruncate left). A place is always after something read:
at the start of a file, it stays at the end of the newest file before it with anything in
it. It also keeps that earlier file's end, which tells a file truncated in place (still
after it) from a new file that took the old one's inode number once it was rolled away
and deleted.

What cannot be found again is lost for good: a file truncated with no copy left (the
copy compressed, or none made), or rolled past ``.9`` before it was read. That is one
WARNING and one call of ``on_loss`` (the bridge's metric), and the follower reads on from
the file after the last one it had read (kept with the place: a truncated file is still
after it, a file rolled away is not). Lines truncated or rolled away from a file of which
nothing had been read leave no trace at all. A first start begins at the current end of
the log: old lines are history, not news.
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from .errors import BridgeError
from .state import LogPosition

log = logging.getLogger(__name__)

#: How much one read takes at most: bounds memory when catching up on a large log.
READ_BYTES = 1 << 20
#: How many bytes before the place are kept to recognise the file (a log line is longer).
BEFORE_BYTES = 64
#: Before any line was ever read, on a log that was empty or missing: all of the chain is news.
ORIGIN = LogPosition(0, 0, 0, "")


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


@dataclass(frozen=True)
class _Link:
    """One file of the chain as listed: its name then, and what it was."""

    path: Path
    stat: os.stat_result


class LogFollower:
    """Hands out the log's new whole lines; :attr:`position` is the place after them."""

    def __init__(self, path: Path, position: LogPosition | None, on_loss: Callable[[], None] = lambda: None):
        self.path = Path(path)
        self.on_loss = on_loss
        #: False when the last read stopped short of the chain's end (more than READ_BYTES).
        self.caught_up = True
        self._place = position if position is not None else self._end_of_log()

    @property
    def position(self) -> LogPosition:
        return self._place

    # -- the chain -------------------------------------------------------------------
    def _chain(self) -> list[_Link]:
        rolled = []
        for sibling in self.path.parent.glob(glob.escape(self.path.name) + ".*"):
            suffix = sibling.name[len(self.path.name) + 1:]
            if suffix.isdigit():
                rolled.append((int(suffix), sibling))
        links = []
        for path in [p for _, p in sorted(rolled, reverse=True)] + [self.path]:
            try:
                links.append(_Link(path, path.stat()))
            except FileNotFoundError:
                continue  # rolled or removed since the listing
        return links

    def _open(self, path: Path) -> BinaryIO:
        try:
            return open(path, "rb")
        except OSError as exc:
            raise BridgeError(f"cannot read OMERO's log {path}: {exc.strerror} (run the bridge as a user of "
                              "OMERO's group, or set omero.mail.bridge.log empty to follow no log)") from None

    def _end_of_log(self) -> LogPosition:
        """A first start: after the last whole line of the newest file with any."""
        chain = self._chain()
        for index in reversed(range(len(chain))):
            with self._open(chain[index].path) as handle:
                size = os.fstat(handle.fileno()).st_size
                handle.seek(max(0, size - READ_BYTES))
                tail = handle.read()
            end = len(tail) if tail.endswith(b"\n") or b"\n" not in tail else tail.rfind(b"\n") + 1
            offset = size - len(tail) + end
            if offset:
                return self._place_in(chain, index, offset)
        log.info("waiting for %s to appear", self.path)
        return ORIGIN

    def _place_in(self, chain: list[_Link], index: int, offset: int, previous: bool = True) -> LogPosition:
        link = chain[index]
        with self._open(link.path) as handle:
            handle.seek(max(0, offset - BEFORE_BYTES))
            before = handle.read(offset - handle.tell())
        earlier = self._end_before(chain, index, previous=False) if previous else None
        return LogPosition(link.stat.st_dev, link.stat.st_ino, offset, before.hex(), earlier)

    def _end_before(self, chain: list[_Link], index: int, previous: bool = True) -> LogPosition | None:
        """The end of the newest file before chain[index] with anything in it (an empty file
        has no bytes to be told by), or None."""
        for earlier in range(index - 1, -1, -1):
            if chain[earlier].stat.st_size:
                return self._place_in(chain, earlier, chain[earlier].stat.st_size, previous)
        return None

    def _start_of(self, chain: list[_Link], index: int) -> LogPosition:
        """The place "nothing of chain[index] read yet"."""
        return self._end_before(chain, index) or ORIGIN

    def _holds(self, link: _Link, place: LogPosition) -> bool:
        """``place``'s bytes are in this file, just before its offset."""
        before = bytes.fromhex(place.before)
        if link.stat.st_size < place.offset:
            return False
        with self._open(link.path) as handle:
            handle.seek(place.offset - len(before))
            return handle.read(len(before)) == before

    def _after_previous(self, chain: list[_Link]) -> int:
        """Where to read on once the place is lost: after the file that came before the place's
        (still there: the place's file was truncated, and any copy made since comes next), else
        from the oldest file (the place's file was the first, or it was rolled away)."""
        previous = self._place.previous
        if previous is not None:
            for index, link in enumerate(chain):
                if _identity(link.stat) == (previous.device, previous.inode) and self._holds(link, previous):
                    return index + 1
        return 0

    def _locate(self, chain: list[_Link]) -> tuple[int, int] | None:
        """Where in ``chain`` to read on: (index, offset), or None when there is no file yet."""
        place = self._place
        if place == ORIGIN:
            return (0, 0) if chain else None
        by_inode = next((i for i, link in enumerate(chain) if _identity(link.stat) == (place.device, place.inode)),
                        None)
        if by_inode is not None and self._holds(chain[by_inode], place):
            return by_inode, place.offset
        if place.before:
            for index, link in enumerate(chain):
                if index != by_inode and self._holds(link, place):
                    return index, place.offset
        if not chain:
            return None
        self.on_loss()
        index = self._after_previous(chain)
        where = f"the start of {chain[index].path.name}" if index < len(chain) else "the next file"
        log.warning("the bridge's place in OMERO's log %s (byte %d of the file it was reading) is gone: that file "
                    "was truncated with no copy left (logrotate's copytruncate keeps one as %s.1 unless it "
                    "compresses it at once), or rolled past %s.9 before it was read to its end; lines written "
                    "after that place, if any, are lost; reading on from %s", self.path, place.offset,
                    self.path.name, self.path.name, where)
        self._place = self._start_of(chain, index)
        return index, 0

    # -- reading -----------------------------------------------------------------------
    def read_lines(self) -> list[str]:
        """New whole lines (without their newline), oldest first; an empty list when there are none yet."""
        chain = self._chain()
        found = self._locate(chain)
        if found is None:
            return []
        index, offset = found
        lines: list[str] = []
        budget = READ_BYTES
        self.caught_up = True
        for position in range(index, len(chain)):
            link = chain[position]
            newest = position == len(chain) - 1
            with self._open(link.path) as handle:
                if _identity(os.fstat(handle.fileno())) != _identity(link.stat):
                    break  # rolled since the listing: the next read finds the place again
                handle.seek(offset)
                data = handle.read(budget)
            if not newest and len(data) < budget:
                end = len(data)  # the rest of a file that is no longer the log: its last line is whole
            else:
                end = data.rfind(b"\n") + 1
                if not end and len(data) == READ_BYTES:
                    end = len(data)  # one line longer than a read is taken whole, never a stall
            if end:
                lines += data[:end].decode("utf-8", "replace").splitlines()
                self._place = self._place_in(chain, position, offset + end)
                budget -= end
            if end < len(data) or budget == 0:
                self.caught_up = newest and budget > 0
                break
            offset = 0
        return lines
