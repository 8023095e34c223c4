"""The ``sent`` outcomes of a stage, gathered per event and published as one report before their acks.

A broadcast to 20,000 users meant 20,000 ``sent`` messages on ``omero.mail.results`` (and
in the broadcast's results queue, which ``broadcast status`` reads whole): a quarter of the
delivery stage's CPU. Here the emails of one event that the worker threads finish while
more work is waiting go out as one report (``emails``: each email's Message-ID, sender,
recipient and attempts), published before the acks of those emails on the same channel,
so the broker has the report before it forgets the emails.

What is held is bounded three ways: everything goes out as soon as the stage has nothing
else queued, once :data:`MOST` emails are held (of all events together), and once the
oldest has waited :data:`LONGEST` seconds, so a backlog never holds an email's ack and
report back. The last bound is kept by a thread of its own, which lives while something is
held: the stage's threads may be busy for long (an SMTP server taking its time over the
next email, up to ``omero.mail.smtp.timeout``), and the emails they sent before must not wait
for them. A quiet stage reports each email at once, in the one-email form it always had
(consumer/outcomes.py).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from events.broker import Delivery, Done, Message

from .. import outcomes

#: Emails held at most, all events together; well below the consumer's prefetch (100 by
#: default), so the emails held unacked never fill the window the broker sends into.
MOST = 25
#: Seconds the oldest email held may wait for its report and ack.
LONGEST = 0.05


class SentReports:
    def __init__(self, most: int = MOST, longest: float = LONGEST,
                 report: Callable[..., Message] = outcomes.sent_report, clock: Callable[[], float] = time.monotonic):
        self.most = most
        self.longest = longest
        self.report = report
        self.clock = clock
        self._lock = threading.Lock()
        #: The thread that sends what is held once it is due, while something is held.
        self._sender: threading.Thread | None = None
        #: Event id -> (the deliveries to ack, their emails' entries, in the order they were sent;
        #: who hears what RabbitMQ made of the report, consumer/stages/listeners.py).
        self._pending: dict[str, tuple[list[Delivery], list[dict], Done | None]] = {}
        self._held = 0
        #: When the oldest email held was added; None when nothing is held.
        self._since: float | None = None

    def add(self, delivery: Delivery, event_id: str, entry: dict, heard: Done | None = None) -> None:
        """One email sent: report it with others of its event, then ack it. With ``heard``, the
        report is mandatory and ``heard`` learns whether a queue took it."""
        with self._lock:
            deliveries, entries, _heard = self._pending.setdefault(event_id, ([], [], heard))
            deliveries.append(delivery)
            entries.append(entry)
            self._held += 1
            if self._since is None:
                self._since = self.clock()
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_when_due, name="sent-reports", daemon=True)
                    self._sender.start()
            full = self._held >= self.most
        if full:
            self.flush()

    def due(self) -> float | None:
        """Seconds until what is held must go out (0: now), or None when nothing is held."""
        with self._lock:
            if self._since is None:
                return None
            return max(0.0, self._since + self.longest - self.clock())

    def flush(self) -> None:
        """Report and ack everything held."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._held, self._since = 0, None
        for event_id, (deliveries, entries, heard) in pending.items():
            self._publish(event_id, deliveries, entries, heard)

    def _send_when_due(self) -> None:
        """Flush what is held once the oldest has waited :data:`LONGEST`, whatever the stage's
        threads are doing (``Delivery.publish`` and ``ack`` may be called from any thread); end
        once nothing is held."""
        while True:
            with self._lock:
                if self._since is None:
                    self._sender = None
                    return
                wait = self._since + self.longest - self.clock()
            if wait > 0:
                time.sleep(wait)
            else:
                self.flush()

    def __len__(self) -> int:
        with self._lock:
            return self._held

    def _publish(self, event_id: str, deliveries: list[Delivery], entries: list[dict], heard: Done | None) -> None:
        # The live deliveries came on the one channel of the stage's subscription: the report is
        # published there first, so it goes out before their acks. One from a connection lost
        # meanwhile is back in its queue and will be sent, and reported, again.
        live = [(delivery, entry) for delivery, entry in zip(deliveries, entries, strict=True) if delivery.live]
        if not live:
            return
        live[0][0].publish(self.report(event_id, [entry for _delivery, entry in live], heard is not None), heard)
        for delivery, _entry in live:
            delivery.ack()
