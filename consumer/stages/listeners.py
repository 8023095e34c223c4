"""Whether anyone listens to the outcomes of events nobody follows by name, learnt from RabbitMQ.

Every outcome goes to the ``omero.mail.results`` exchange, but an outcome no queue is bound
to receive is dropped there, and an event's ``planned`` and each email's ``sent`` were two
of the five broker publishes an email cost. A broadcast is followed by name (its command
binds its results queue before publishing it): its outcomes always go. The others are
published as mandatory messages, so RabbitMQ returns one that no queue takes; after a
return this stage stops publishing that outcome, except one real outcome a second (the
probe), and publishes them all again from the first probe a queue takes. So a queue bound
to ``omero.mail.results`` for every event (an audit reader's ``#``, or ``*.sent``)
receives those outcomes from about :data:`PROBE_SECONDS` after it was bound (a probe
``sent`` may wait up to ``consumer/stages/sent_reports.py``'s LONGEST more), as if bound that much
later, and no message of its own is ever sent to find out. What is learnt is per outcome,
across events: a queue bound to the outcomes of one event only (``<id>.#``) is not told
apart, which is why a broadcast, whose command binds just that, is always published.
Failures, retries and refusals are always published.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from events.broker import UNROUTABLE

#: How often an outcome nobody listened to is published again, to learn whether someone does now.
PROBE_SECONDS = 1.0


class Listeners:
    def __init__(self, probe_seconds: float = PROBE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.probe_seconds = probe_seconds
        self.clock = clock
        self._lock = threading.Lock()
        #: Outcome -> when to publish the next probe; absent = someone may listen, publish.
        self._next_probe: dict[str, float] = {}

    def wanted(self, outcome: str) -> bool:
        """Whether to publish this outcome of an event nobody follows by name (True: publish it
        mandatory and tell :meth:`heard` what became of it)."""
        with self._lock:
            due = self._next_probe.get(outcome)
            if due is None:
                return True
            now = self.clock()
            if now < due:
                return False
            self._next_probe[outcome] = now + self.probe_seconds
            return True

    def heard(self, outcome: str, reason: str | None) -> None:
        """What RabbitMQ said of a published outcome: taken by a queue (None), or returned."""
        with self._lock:
            if reason is None:
                self._next_probe.pop(outcome, None)
            elif reason.startswith(UNROUTABLE):
                self._next_probe.setdefault(outcome, self.clock() + self.probe_seconds)

    def listener(self, outcome: str) -> Callable[[str | None], None]:
        """The ``done`` callback of a published ``outcome``."""
        return lambda reason: self.heard(outcome, reason)
