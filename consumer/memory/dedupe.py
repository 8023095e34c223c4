"""The duplicate filter: event ids the rules stage planned, for ``omero.mail.dedupe.window``.

A publisher that is not sure its event arrived sends it again with the same id, and the
bridge derives its ids from OMERO's database, so the same event may come twice. The
rules stage asks :meth:`DuplicateFilter.planned_at` before planning, and :meth:`add`\\ s an
event's key (its id and its publisher, see ``consumer/memory/state.py``) once its mails are in the
outbox. Pure: the clock is given, and where the keys come from (this process, or another
rules stage's records) is ``consumer/memory/state.py``'s business.

Memory is bounded twice: by time (ids older than the window are dropped) and by count
(``limit`` ids at most, the oldest dropped first, with a warning: the window is then
shorter than configured). An id takes about 150 bytes (README, Scaling out).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Callable, Hashable

log = logging.getLogger(__name__)


class DuplicateFilter:
    def __init__(self, window: float, limit: int, clock: Callable[[], float] = time.time):
        self.window = window
        self.limit = max(1, limit)
        self.clock = clock
        #: Event id -> when it was planned, oldest first.
        self._planned: OrderedDict[Hashable, float] = OrderedDict()
        self._warned = False

    def __len__(self) -> int:
        return len(self._planned)

    def planned_at(self, key: Hashable) -> float | None:
        """When the event known by ``key`` was planned within the window, or None."""
        self._expire()
        return self._planned.get(key)

    def add(self, key: Hashable, at: float | None = None) -> None:
        at = self.clock() if at is None else at
        if at < self.clock() - self.window or key in self._planned:
            return
        newest = next(reversed(self._planned.values()), None)
        self._planned[key] = at
        if newest is not None and at < newest:
            # A record from another stage, older than what is held: keep the order by time.
            self._planned = OrderedDict(sorted(self._planned.items(), key=lambda item: item[1]))
        while len(self._planned) > self.limit:
            self._planned.popitem(last=False)
            if not self._warned:
                self._warned = True
                log.warning("duplicate filter full (omero.mail.dedupe.max=%d): it now forgets ids sooner "
                            "than omero.mail.dedupe.window", self.limit)

    def _expire(self) -> None:
        horizon = self.clock() - self.window
        while self._planned and next(iter(self._planned.values())) < horizon:
            self._planned.popitem(last=False)
