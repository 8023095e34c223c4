"""The worker base of both stages: the loop, the crash guard, and what follows an outcome.

As Zulip's queue workers (``zerver/worker/base.py``) share one loop and one error
handling, a stage here is a subclass whose :meth:`Worker.process` turns one consumed
message into a plain outcome value (``consumer/outcomes.py``) and touches the broker no
further. What follows from an outcome is written once, in :meth:`Worker.settle`: the log
line, the metric, the report to ``omero.mail.results``, the copies for the outbox, a
retry tier or a parking lot, and the ack or nack. A message is acked only after its
copies are confirmed by the broker, so a crash in between handles it again rather than
losing it.

Messages are handled on the stage's own threads, never on the consumer's I/O loop, so a
large plan or a slow SMTP server never stalls its heartbeats. A message that keeps
crashing its stage (a poison message) is counted here and parked after ``crash_limit``
crashes instead of coming back forever.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections import OrderedDict
from itertools import islice
from typing import Callable, Generic, Mapping, TypeVar

from events import topology as topo
from events.broker import Delivery, Message
from senders.mail import Mail, split_recipients
from senders.plan import Plan

from .. import outcomes
from ..outcomes import Folded, Outcome, Parked, PartlySent, Planned, Requeue, Retry, Sent
from .listeners import Listeners
from .sent_reports import SentReports
from ..access.trust import Trust

#: Seconds before a message is given back when even settling its crash failed.
DOUBLE_FAULT_PAUSE = 1.0

#: Where a parked copy is routed, by parking lot.
PARKING_KEYS = {topo.INVALID_QUEUE: topo.INVALID_KEY, topo.FAILED_QUEUE: topo.FAILED_KEY}
#: Bytes of outbox messages after which a slice ends, however few: each carries the whole body,
#: and a broadcast's body may be megabytes.
SLICE_BYTES = 16 * 1024 * 1024


def mask(address: str) -> str:
    """``jane.doe@example.org`` -> ``j***@example.org`` for logs; each address of a To list alike."""
    def one(text: str) -> str:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}" if domain else "***"

    return ", ".join(one(text) for text in split_recipients(address))


class Crashes:
    """How often each message has crashed its handler, so a poison message is parked.

    Classic queues keep no delivery count, and a message returned to its queue after a
    crash comes straight back: counted here by message id, it is parked after ``limit``
    crashes instead of looping forever. Quorum queues count too (``x-delivery-limit``),
    which also covers a message that kills the whole process.
    """

    def __init__(self, limit: int = 5, remember: int = 10_000):
        self.limit = max(1, limit)
        self.remember = remember
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, message_id: str | None, body: bytes) -> bool:
        """Count one crash; True when the message has now crashed ``limit`` times (or more: the
        count is kept, so a message whose parking failed is parked at its next crash)."""
        key = message_id or hashlib.sha256(body).hexdigest()
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            while len(self._counts) > self.remember:
                self._counts.popitem(last=False)
            return count >= self.limit


#: What one stage's :meth:`Worker.process` returns besides the outcomes every stage knows
#: (the rules stage's duplicates); that stage's :meth:`Worker.settle` handles them.
Extra = TypeVar("Extra")


class Worker(Generic[Extra]):
    """One stage: a subclass sets these class attributes and implements :meth:`process`."""

    #: Thread names, ``<name>-<n>``.
    name: str
    #: The queue the stage consumes, and the parking lot of what crashes it.
    queue: str
    parking: str
    #: How a crash is logged (``%s`` = the message id) and told in the parked copy's reason.
    crashed: str
    crash_reason: str

    def __init__(self, *, threads: int = 1, crash_limit: int = 5, show_addresses: bool = False):
        self.threads = max(1, threads)
        self.crashes = Crashes(crash_limit)
        self.show_addresses = show_addresses
        #: Which publishing broker users the stage accepts (consumer/access/trust.py); set by the service.
        self.trust = Trust()
        #: Logged under the stage's own module, as ``consumer.stages.delivery``.
        self.log = logging.getLogger(type(self).__module__)
        #: Observers (metrics): events taken (type or "invalid", the plan or None), email outcomes,
        #: and the outbox headers of each email the server accepted.
        self.on_event: Callable[[str, Plan | None], None] = lambda kind, plan: None
        self.on_outcome: Callable[[str, Mail | None, str], None] = lambda outcome, mail, detail: None
        self.on_accepted: Callable[[Mapping], None] = lambda headers: None
        #: ``sent`` outcomes gathered per event, reported before their acks (consumer/stages/sent_reports.py),
        #: and whether anyone listens to the outcomes of events not followed by name (consumer/stages/listeners.py).
        self.sent_reports = SentReports()
        self.listeners = Listeners()
        self._inbox: queue.Queue = queue.Queue()
        self._inbox_lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []

    def process(self, delivery: Delivery) -> Outcome | Extra:
        """What became of this message; everything else is :meth:`settle`'s."""
        raise NotImplementedError

    def thread_started(self) -> None:
        """Called on each of the stage's threads before its first message."""

    def thread_stopped(self) -> None:
        """Called on each of the stage's threads after its last message."""

    # -- the loop ------------------------------------------------------------------------
    def start(self) -> None:
        for number in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def handle(self, delivery: Delivery) -> None:
        """The subscription's handler, on the I/O loop: queue the message for a thread."""
        self.submit(self._take, delivery)

    def submit(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` on one of the stage's threads; RuntimeError once closing."""
        with self._inbox_lock:
            if self._closed:
                raise RuntimeError(f"the {self.name} stage is closed")
            self._inbox.put((fn, args))

    def close(self) -> None:
        """Finish everything already queued, then stop the threads."""
        with self._inbox_lock:
            self._closed = True
            for _ in self._threads:
                self._inbox.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _run(self) -> None:
        self.thread_started()
        try:
            while (job := self._next_job()) is not None:
                fn, args = job
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - one failed job must not stop the thread
                    self.log.exception("%s failed on %s", getattr(fn, "__name__", fn), threading.current_thread().name)
                finally:
                    if self._inbox.empty() or self.sent_reports.due() == 0:
                        self.sent_reports.flush()
        finally:
            self.sent_reports.flush()
            self.thread_stopped()

    def _next_job(self):
        """The next job from the inbox; what ``sent_reports`` holds goes out when it is due meanwhile."""
        while True:
            try:
                return self._inbox.get(timeout=self.sent_reports.due())
            except queue.Empty:
                self.sent_reports.flush()

    def _take(self, delivery: Delivery) -> None:
        if not delivery.live:
            # Its connection was lost while it waited here: the broker already gave it
            # back to the queue, and handling it now would only make a duplicate.
            return
        self._guarded(delivery, lambda: self.settle(delivery, self.process(delivery)))

    def _guarded(self, delivery: Delivery, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - a crash returns or parks the message, never loses it
            try:
                self.settle(delivery, self._crashed(delivery, exc))
            except Exception:  # noqa: BLE001 - not even parked: the broker gets it back, never held
                self.log.exception("settling message %s after a crash failed; returning it to the queue in %.0fs",
                                   delivery.message_id, DOUBLE_FAULT_PAUSE)
                # Not at once: a message whose parking fails would otherwise come straight back.
                later = threading.Timer(DOUBLE_FAULT_PAUSE, delivery.nack, (True,))
                later.daemon = True
                later.start()

    def _on_loop(self, delivery: Delivery, callback: Callable[..., None]) -> Callable[..., None]:
        """``callback`` for the I/O loop (a confirm's ``done``): if it raises, ``delivery`` is
        settled as a crash in :meth:`process` is (counted, given back or parked), not left held,
        and the loop and its connection carry on."""
        def guarded(*args) -> None:
            self._guarded(delivery, lambda: callback(*args))

        return guarded

    def _crashed(self, delivery: Delivery, exc: Exception) -> Outcome:
        """Called while ``exc`` is handled, so the log carries its traceback."""
        if self.crashes.record(delivery.message_id, delivery.body):
            self.log.exception(self.crashed + " %d times; parking it", delivery.message_id, self.crashes.limit)
            return Parked(self.parking, f"{self.crash_reason} {self.crashes.limit} times: {type(exc).__name__}: {exc}",
                          attempts=outcomes.this_attempt(delivery.headers))
        self.log.exception(self.crashed + "; returning it to the queue", delivery.message_id)
        return Requeue()

    # -- the one place an outcome is logged, counted, reported and settled ---------------------
    def settle(self, delivery: Delivery, outcome: Outcome | Extra) -> None:
        match outcome:
            case Sent(mail=mail, attempts=attempts):
                self._log_email(outcomes.SENT, mail, "")
                self.on_outcome(outcomes.SENT, mail, "")
                self.on_accepted(delivery.headers)
                followed = outcomes.followed(delivery.headers)
                if followed or self.listeners.wanted(outcomes.SENT):
                    self.sent_reports.add(delivery, mail.event_id, outcomes.sent_entry(mail, attempts),
                                          None if followed else self.listeners.listener(outcomes.SENT))
                else:
                    delivery.ack()
            case Retry() | Parked():
                self._move(delivery, [self._copy(delivery, outcome)])
            case PartlySent(mail=mail, refused=refused):
                count = sum(len(each.recipients or ()) for each in refused)
                self._log_email(outcomes.SENT, mail, f"to all but {count} refused")
                self._move(delivery, [self._copy(delivery, each) for each in refused])
            case Planned(event=event, plan=plan):
                self.on_event(event.type, plan)
                # A sender that found recipients but no address for any of them: nobody is mailed.
                (self.log.warning if plan.no_email and not plan.mails else self.log.info)(
                    "event %s %s: %d email(s) from %s; %d without email, %d invalid", event.id, event.type,
                    len(plan.mails), ", ".join(plan.senders) or "no sender", plan.no_email, plan.invalid)
                self._publish_slice(delivery, outcome, 0)
            case Folded(event=event, plan=plan, report=report, followed=followed):
                self.on_event(event.type, Plan(senders=plan.senders))
                if not report:
                    delivery.ack()
                    return
                heard = None if followed else self.listeners.listener(outcomes.PLANNED)

                def reported(reason: str | None) -> None:
                    if heard is not None:
                        heard(reason)
                    delivery.ack()

                delivery.publish(outcomes.result(event.id, outcomes.PLANNED, mandatory=not followed, type=event.type,
                                                 total=0, folded=1, senders=plan.senders),
                                 self._on_loop(delivery, reported))
            case Requeue():
                delivery.nack(requeue=True)

    def _move(self, delivery: Delivery, copies: list[Message]) -> None:
        """Publish the copies; ack the original once all are confirmed, else give it back."""
        delivery.publish_many(copies, self._on_loop(
            delivery, lambda reasons: delivery.nack(True) if any(reasons) else delivery.ack()))

    def _publish_slice(self, delivery: Delivery, planned: Planned, published: int) -> None:
        """The next slice of outbox messages; the event is acked after the last one's confirm.

        A broadcast to thousands is never held as thousands of encoded messages (nor as
        thousands of frames in pika's buffer) at once: each slice is built on the stage's
        thread once the one before it is confirmed.
        """
        event, plan = planned.event, planned.plan
        messages = _slice(planned.messages, planned.slice_size)
        published += len(messages)
        last = published >= len(plan.mails)
        report = last and planned.report
        if report:
            messages.append(outcomes.result(event.id, outcomes.PLANNED, mandatory=not planned.followed,
                                            type=event.type, total=len(plan.mails), no_email=plan.no_email,
                                            invalid=plan.invalid, senders=plan.senders))

        def confirmed(reasons: list) -> None:
            if report and not planned.followed:
                self.listeners.heard(outcomes.PLANNED, reasons[-1])
            failed = [r for r in (reasons[:-1] if report else reasons) if r]
            if failed:
                self.log.warning("event %s: %d outbox message(s) not confirmed (%s); returning it to the queue",
                                 event.id, len(failed), failed[0])
                delivery.nack(requeue=True)
            elif last:
                delivery.ack()
            else:
                self.submit(self._guarded, delivery, lambda: self._publish_slice(delivery, planned, published))

        delivery.publish_many(messages, self._on_loop(delivery, confirmed))

    def _copy(self, delivery: Delivery, outcome: Retry | Parked) -> Message:
        """Log, count and report a retry or a parking; the copy to publish for it."""
        if isinstance(outcome, Retry):
            return self._retrying(delivery, outcome)
        if outcome.queue == topo.INVALID_QUEUE:
            return self._invalid(delivery, outcome)
        return self._failed(delivery, outcome)

    def _retrying(self, delivery: Delivery, outcome: Retry) -> Message:
        mail = outcome.mail
        self._log_email(outcomes.RETRYING, mail, f"in {topo.duration_label(outcome.delay_ms)}: {outcome.reason}")
        self.on_outcome(outcomes.RETRYING, mail, outcome.reason)
        delivery.publish(outcomes.result(mail.event_id, outcomes.RETRYING, message_id=mail.message_id,
                                         sender=mail.sender, recipient=mail.to, attempts=outcome.attempts,
                                         error=outcomes.one_line(outcome.reason)))
        headers = outcomes.attempt_headers(delivery.headers, outcome.attempts, outcome.reason, outcome.recipients)
        return Message(topo.MAIL_EXCHANGE, topo.retry_key(outcome.delay_ms), delivery.body, delivery.message_id,
                       headers)

    def _failed(self, delivery: Delivery, outcome: Parked) -> Message:
        """An email for ``omero.mail.failed``, with why, how often and when."""
        mail = outcome.mail
        self._log_email(outcomes.FAILED, mail, outcome.reason)
        self.on_outcome(outcomes.FAILED, mail, outcome.reason)
        event_id = mail.event_id if mail else str(delivery.headers.get(outcomes.EVENT_ID, ""))
        if event_id:
            delivery.publish(outcomes.result(event_id, outcomes.FAILED, message_id=delivery.message_id,
                                             sender=mail.sender if mail else "", recipient=mail.to if mail else "",
                                             attempts=outcome.attempts, error=outcomes.one_line(outcome.reason)))
        headers = outcomes.attempt_headers(delivery.headers, outcome.attempts, outcome.reason, outcome.recipients)
        headers[outcomes.FROM_QUEUE] = self.queue
        headers = outcomes.with_verdict(headers, outcome.untrusted)
        return outcomes.parked(delivery.body, delivery.message_id, PARKING_KEYS[outcome.queue], headers,
                               outcome.reason)

    def _invalid(self, delivery: Delivery, outcome: Parked) -> Message:
        """An event for ``omero.mail.invalid``, as it came, with why."""
        self.on_event(outcomes.INVALID, None)
        self.log.warning("invalid event %s parked in %s: %s", delivery.message_id or "(no id)", outcome.queue,
                         outcomes.one_line(outcome.reason, 200))
        event_id = outcomes.event_id_of(delivery.body)
        if event_id:
            # Whoever follows the event (broadcast --wait) learns it was refused, and why.
            delivery.publish(outcomes.result(event_id, outcomes.INVALID, reason=outcomes.one_line(outcome.reason)))
        headers = {**delivery.headers, outcomes.FROM_QUEUE: self.queue, outcomes.ROUTING_KEY: delivery.routing_key}
        headers = outcomes.with_verdict(headers, outcome.untrusted)
        return outcomes.parked(delivery.body, delivery.message_id, PARKING_KEYS[outcome.queue], headers,
                               outcome.reason, delivery.content_type)

    def _log_email(self, outcome: str, mail: Mail | None, detail: str) -> None:
        if mail is None:
            self.log.warning("email %s: %s", outcome, detail)
            return
        to = mail.to if self.show_addresses else mask(mail.to)
        level = logging.INFO if outcome == outcomes.SENT else logging.WARNING
        self.log.log(level, "email %s event=%s sender=%s message_id=%s to=%s%s", outcome, mail.event_id, mail.sender,
                     mail.message_id, to, f" ({outcomes.one_line(detail, 300)})" if detail else "",
                     extra={"fields": {"outcome": outcome, "event_id": mail.event_id, "sender": mail.sender,
                                       "message_id": mail.message_id, "recipient": to}})


def _slice(messages, count: int) -> list[Message]:
    """The next ``count`` messages, or fewer once they hold :data:`SLICE_BYTES`."""
    taken: list[Message] = []
    size = 0
    for message in islice(messages, count):
        taken.append(message)
        size += len(message.body)
        if size >= SLICE_BYTES:
            break
    return taken
