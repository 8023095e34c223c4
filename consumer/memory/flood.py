"""The flood guard in the rules stage: fold alike events, publish their digest at window end.

The counting is ``senders/flood.py``'s (pure). This is its edge: a folded event is acked
by the stage (with a ``planned`` outcome of no email), and when a window ends a timer hands the
digest to the rules stage's worker thread, which publishes one digest mail per recipient
to the outbox with its own confirmed publisher (a window may end when no event is being
handled, so there is no delivery to publish on).

Counts live in memory, and every change to them is also recorded in the rules stage's
state stream (``consumer/memory/state.py``): a stage that takes over after a crash, or the same
stage restarted, carries on the counts of the windows then open. On a graceful stop every
digest still owed is published at once (early, with the count so far). A digest whose
publish fails is tried again ``retry_seconds`` later. The times are the wall clock's, so
that they mean the same in every rules-stage process.

Only the active rules stage sends digests. With the state kept, a stage is the active one
from its catch-up with the stream (on its first event after connecting) for as long as that
connection lasts: one whose connection was lost sends none, whether it comes back as a
standby (another stage took the events queue, and its windows from the stream) or as the
active one again, which it learns, and rebuilds its windows, at its next event. At a
graceful stop it sends them only if no rules stage consumes the events queue any more,
after catching up.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from events import topology as topo
from events.broker import BrokerError, Delivery, Message, Publisher, consumer_count
from events.schemas import Event
from events.settings import FloodSettings
from senders.flood import FloodGuard, Window, change, digest_mails, rules_from_settings
from senders.mail import Mail
from senders.plan import Plan

from ..outbox import outbox_message

log = logging.getLogger(__name__)


class FloodControl:
    def __init__(self, guard: FloodGuard, publisher: Callable[[], Publisher],
                 outbox_message: Callable[[Mail], Message], retry_seconds: float = 30.0,
                 others_consuming: Callable[[], int] = lambda: 0):
        self.guard = guard
        self.make_publisher = publisher
        self.outbox_message = outbox_message
        self.retry_seconds = retry_seconds
        self._submit: Callable = lambda fn: fn()
        self._publisher: Publisher | None = None
        self._timer: threading.Timer | None = None
        self._timer_at: float | None = None
        self._closing = False
        #: The record of a sent digest, for the state stream (consumer/memory/state.py); None = none kept.
        self.digest_record: Callable[[Window], Message] | None = None
        #: Catching up with the state stream, which rebuilds the windows (consumer/memory/state.py).
        self.catch_up: Callable[[], object] = lambda: None
        #: How many consumers the events queue has, asked once this stage's own are gone.
        self.others_consuming = others_consuming
        #: The event this stage last caught up on; None until then (and always without the state kept).
        self._caught_up: Delivery | None = None
        self._active_at_stop: bool | None = None
        self._stood_by: Delivery | None = None
        #: Told the type of each event mailed one by one because the guard held its most windows (a metric).
        self.on_unguarded: Callable[[str], None] = lambda kind: None
        self._warned_full = False
        guard.on_full = self._unguarded

    def attach(self, submit: Callable) -> None:
        """Run digests on the stage's worker: ``submit(fn)`` queues ``fn`` there."""
        self._submit = submit

    def fold(self, event: Event, result: Plan) -> bool:
        """True when the event was folded (the stage then acks it); False when it is to be mailed as usual."""
        if self.guard.admit(event, result.mails):
            return False
        window = self.guard.window_of(event)
        if window is not None:
            log.info("event %s %s folded into a digest (%s): %d folded in this window so far",
                     event.id, event.type, window.describe_key(), window.folded)
        self._schedule()
        return True

    def _unguarded(self, event: Event) -> None:
        self.on_unguarded(event.type)
        if not self._warned_full:
            self._warned_full = True
            log.warning("the flood guard holds its most windows (%d): events of a key without one are mailed one "
                        "by one until windows end (metric omero_mail_flood_unguarded_total); event %s %s is the first",
                        self.guard.most, event.id, event.type)

    def change(self, event: Event, result: Plan, folded: bool) -> dict | None:
        """What :meth:`fold` did to the event's window, for the state stream; None if it counted nothing."""
        window = self.guard.window_of(event) if result.mails else None
        return None if window is None else change(window, event, folded)

    def activate(self, delivery: Delivery) -> None:
        """The stage caught up with the state stream on ``delivery``: it is the active one while
        that delivery's connection lasts, and times the digests of its windows (rebuilt)."""
        self._caught_up = delivery
        self._schedule()

    def stopping(self) -> None:
        """A graceful stop begins: whether this stage is the active one is known now, while its
        connection is open (:meth:`close` comes after the connection closed)."""
        self._active_at_stop = self._active()

    def _active(self) -> bool:
        return self._caught_up is None or self._caught_up.live

    # -- the digests -------------------------------------------------------------------
    def _schedule(self) -> None:
        due = self.guard.next_due()
        if due is None or self._closing or (self._timer_at is not None and self._timer_at <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = threading.Timer(max(due - self.guard.clock(), 0.0), self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        try:
            self._submit(self.send_due)
        except RuntimeError:
            pass  # the stage is closing; close() publishes what is owed

    def send_due(self) -> None:
        self._timer, self._timer_at = None, None
        if not self._active():
            self._stand_by()
            return
        for window in self.guard.due():
            self._send(window)
        self._schedule()

    def _send(self, window: Window) -> bool:
        mails = digest_mails(window)
        try:
            if self._publisher is None:
                self._publisher = self.make_publisher()
            self._publisher.publish_many([self.outbox_message(mail) for mail in mails])
            if self.digest_record is not None:
                self._publisher.publish(self.digest_record(window))
        except BrokerError as exc:
            log.warning("digest of %d folded %s event(s) (%s) not published (%s); trying again in %gs",
                        window.folded, window.event_type, window.describe_key(), exc, self.retry_seconds)
            self.guard.give_back(window, self.retry_seconds)
            return False
        log.info("digest of %d folded %s event(s) (%s) sent to the outbox: %d email(s)",
                 window.folded, window.event_type, window.describe_key(), len(mails))
        return True

    def _stand_by(self) -> None:
        """Not the active stage: its timer sends nothing, and is set again by :meth:`activate`."""
        if self._stood_by is not self._caught_up:
            self._stood_by = self._caught_up
            log.info("this rules stage lost its connection since it caught up with %s: the digests of %d folded "
                     "event(s) are the active stage's to send (this one rebuilds its windows if it is active again)",
                     topo.STATE_STREAM, self.guard.folded())

    def close(self) -> None:
        """Publish every digest still owed, now, if this stage is the active one (call after the
        stage's worker has stopped)."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if self._sends_at_stop():
            for window in self.guard.drain():
                if not self._send(window):
                    log.error("digest of %d folded %s event(s) (%s) lost: the broker did not take it",
                              window.folded, window.event_type, window.describe_key())
        if self._publisher is not None:
            self._publisher.close()

    def _sends_at_stop(self) -> bool:
        """The active stage sends what is owed; one whose connection was lost, only if no rules stage
        consumes the events queue now (after catching up: another may have sent some meanwhile)."""
        active = self._active() if self._active_at_stop is None else self._active_at_stop
        if active or not self.guard.folded():
            return active
        try:
            others = self.others_consuming()
            if not others:
                self.catch_up()
        except BrokerError as exc:
            log.warning("the digests of %d folded event(s) are left in %s for the next active rules stage: "
                        "cannot tell whether one consumes %s (%s)",
                        self.guard.folded(), topo.STATE_STREAM, topo.EVENTS_QUEUE, exc)
            return False
        if others:
            log.info("the digests of %d folded event(s) are left to the rules stage consuming %s",
                     self.guard.folded(), topo.EVENTS_QUEUE)
        return not others


def flood_control(flood: FloodSettings, broker_url: str) -> FloodControl:
    """The guard as ``omero.mail.flood.*`` set it, publishing its digests to the broker."""
    return FloodControl(FloodGuard(rules_from_settings(flood), clock=time.time),
                        lambda: Publisher(broker_url, name="omero-mail digests"), outbox_message,
                        others_consuming=lambda: consumer_count(broker_url, topo.EVENTS_QUEUE))
