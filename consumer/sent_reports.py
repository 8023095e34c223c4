"""The ``sent`` outcomes of a stage, gathered per event and published as one report before their acks.

A broadcast to 20,000 users meant 20,000 ``sent`` messages on ``omero.mail.results`` (and
in the broadcast's results queue, which ``broadcast status`` reads whole): a quarter of the
delivery stage's CPU. Here the emails of one event that the worker threads finish while
more work is waiting go out as one report (``emails``: each email's Message-ID, sender,
recipient and attempts), published before the acks of those emails on the same channel,
so the broker has the report before it forgets the emails. A report goes out as soon as
the stage has nothing else queued, or once it holds :data:`MOST` emails, so a quiet stage
reports each email at once, in the one-email form it always had (consumer/outcomes.py).
"""

from __future__ import annotations

import threading
from typing import Callable

from events.broker import Delivery, Done, Message

from . import outcomes

#: Emails in one report at most; well below the consumer's prefetch (100 by default), so the
#: unacked emails a report holds back never stop the broker from sending more.
MOST = 25


class SentReports:
    def __init__(self, most: int = MOST, report: Callable[..., Message] = outcomes.sent_report):
        self.most = most
        self.report = report
        self._lock = threading.Lock()
        #: Event id -> (the deliveries to ack, their emails' entries, in the order they were sent;
        #: who hears what RabbitMQ made of the report, consumer/listeners.py).
        self._pending: dict[str, tuple[list[Delivery], list[dict], Done | None]] = {}

    def add(self, delivery: Delivery, event_id: str, entry: dict, heard: Done | None = None) -> None:
        """One email sent: report it with others of its event, then ack it. With ``heard``, the
        report is mandatory and ``heard`` learns whether a queue took it."""
        with self._lock:
            deliveries, entries, _heard = self._pending.setdefault(event_id, ([], [], heard))
            deliveries.append(delivery)
            entries.append(entry)
            full = len(entries) >= self.most
            if full:
                del self._pending[event_id]
        if full:
            self._publish(event_id, deliveries, entries, heard)

    def flush(self) -> None:
        """Report and ack everything held: called whenever the stage has nothing else queued."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for event_id, (deliveries, entries, heard) in pending.items():
            self._publish(event_id, deliveries, entries, heard)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entries) for _deliveries, entries, _heard in self._pending.values())

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
