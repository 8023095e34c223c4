"""The rules stage: one event in, its emails out to the outbox (or the event parked).

An event is acked only once every outbox message it produced is confirmed by the
broker, so a crash in between re-plans the event rather than losing mail (the outbox
copies carry the same Message-IDs). Planning runs on one worker thread, so a large
broadcast or a slow directory never stalls the I/O loop and its heartbeats.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from events import topology as topo
from events.broker import Delivery, Message
from events.schemas import Event, InvalidEvent, load_event
from senders.directory import Directory
from senders.mail import Mail
from senders.plan import Plan, plan
from senders.rules import MailSender

from . import outcomes

log = logging.getLogger(__name__)

#: Event types that are not "mail senders" and so do not depend on omero.mail.config.
ALWAYS_ON = frozenset({"admin.broadcast", "web.error"})


#: Outbox messages built and published at a time for one event (see ``_publish_slices``).
PUBLISH_SLICE = 1000

#: The event's ``occurred_at``, carried to the delivery stage for the latency metric.
OCCURRED_AT = "x-omero-mail-occurred-at"


def outbox_message(mail: Mail, occurred_at: str = "") -> Message:
    headers = {outcomes.EVENT_ID: mail.event_id, outcomes.SENDER: mail.sender, outcomes.RECIPIENT: mail.to}
    if occurred_at:
        headers[OCCURRED_AT] = occurred_at
    return Message(
        exchange=topo.MAIL_EXCHANGE,
        routing_key=topo.OUTBOX_KEY,
        body=mail.to_json(),
        message_id=mail.message_id,
        headers=headers,
    )


class RulesStage:
    def __init__(self, senders: Sequence[MailSender], directory: Callable[[], Directory], mail_from: str,
                 enabled: bool = True, planners: dict[str, Callable[[Event], Plan]] | None = None):
        self.senders = list(senders)
        self.directory = directory
        self.mail_from = mail_from
        self.enabled = enabled
        #: Event types planned by something other than the XML senders (broadcast, web errors).
        self.planners = dict(planners or {})
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules")
        #: Crashes per event, so a poison event is parked rather than redelivered forever.
        self.crashes = outcomes.Crashes()
        #: Observers (metrics): called with (event type or "invalid", the plan or None).
        self.on_event: Callable[[str, Plan | None], None] = lambda kind, result: None
        #: The flood guard (consumer/flood.py), set by the service; None = every event mailed.
        self.flood = None
        if not enabled:
            log.warning("omero.mail.config is false: event senders send nothing "
                        "(admin broadcasts and web error reports still go out)")

    def handle(self, delivery: Delivery) -> None:
        self._pool.submit(self._guarded, delivery)

    def _guarded(self, delivery: Delivery) -> None:
        """A crash returns the event to its queue; one that keeps crashing is parked (poison)."""
        try:
            self._handle(delivery)
        except Exception as exc:  # noqa: BLE001 - the executor would swallow it and leave the event unsettled
            if self.crashes.record(delivery.message_id, delivery.body):
                log.exception("event %s crashed the rules stage %d times; parking it", delivery.message_id,
                              self.crashes.limit)
                self.park(delivery, f"rules stage crashed {self.crashes.limit} times: {type(exc).__name__}: {exc}")
            else:
                log.exception("event %s crashed the rules stage; returning it to the queue", delivery.message_id)
                delivery.nack(requeue=True)

    def guard_floods(self, flood) -> None:
        """Fold alike events into digests (consumer/flood.py); its timer runs on this stage's worker."""
        self.flood = flood
        flood.attach(self._pool.submit)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self.flood is not None:
            self.flood.close()

    def _handle(self, delivery: Delivery) -> None:
        try:
            event = load_event(delivery.body)
        except InvalidEvent as exc:
            self.park(delivery, str(exc))
            return
        try:
            result = self.plan(event)
        except Exception as exc:  # noqa: BLE001 - a rule bug parks the event, it never loops
            log.exception("planning event %s failed", event.id)
            self.park(delivery, f"rules failed: {type(exc).__name__}: {exc}")
            return
        if self.flood is not None and self.flood.fold(event, result, delivery):
            self.on_event(event.type, Plan(senders=result.senders))
            return
        self.on_event(event.type, result)
        log.info("event %s %s: %d email(s) from %s; %d without email, %d invalid", event.id, event.type,
                 len(result.mails), ", ".join(result.senders) or "no sender", result.no_email, result.invalid)
        self._publish_slices(delivery, event, result, 0)

    def _publish_slices(self, delivery: Delivery, event: Event, result: Plan, start: int) -> None:
        """Publish the outbox messages a slice at a time; ack the event after the last confirm.

        A broadcast to thousands is never held as thousands of encoded messages (nor as
        thousands of frames in pika's buffer) at once: each slice is built here, on the
        rules worker, once the one before it is confirmed.
        """
        occurred_at = event.occurred_at.isoformat()
        messages = [outbox_message(mail, occurred_at) for mail in result.mails[start:start + PUBLISH_SLICE]]
        last = start + PUBLISH_SLICE >= len(result.mails)
        if last:
            messages.append(outcomes.result(event.id, outcomes.PLANNED, type=event.type, total=len(result.mails),
                                            no_email=result.no_email, invalid=result.invalid,
                                            senders=result.senders))

        def confirmed(reasons: list) -> None:
            failed = [r for r in (reasons[:-1] if last else reasons) if r]
            if failed:
                log.warning("event %s: %d outbox message(s) not confirmed (%s); returning it to the queue",
                            event.id, len(failed), failed[0])
                delivery.nack(requeue=True)
            elif last:
                delivery.ack()
            else:
                self._pool.submit(self._publish_slices, delivery, event, result, start + PUBLISH_SLICE)

        delivery.publish_many(messages, confirmed)

    def plan(self, event: Event) -> Plan:
        planner = self.planners.get(event.type)
        if planner is not None:
            return planner(event)
        if not self.enabled and event.type not in ALWAYS_ON:
            return Plan()
        return plan(event, self.senders, self.directory(), self.mail_from)

    def park(self, delivery: Delivery, reason: str) -> None:
        self.on_event(outcomes.INVALID, None)
        log.warning("invalid event %s parked in %s: %s", delivery.message_id or "(no id)", topo.INVALID_QUEUE,
                    outcomes.one_line(reason, 200))
        message = outcomes.parked(delivery.body, delivery.message_id, topo.INVALID_KEY, {
            **delivery.headers,
            outcomes.FROM_QUEUE: topo.EVENTS_QUEUE,
            outcomes.ROUTING_KEY: delivery.routing_key,
        }, reason, delivery.content_type)
        event_id = outcomes.event_id_of(delivery.body)
        if event_id:
            # Whoever follows the event (broadcast --wait) learns it was refused, and why.
            delivery.publish(outcomes.result(event_id, outcomes.INVALID, reason=outcomes.one_line(reason)))

        def confirmed(reason_not_parked: str | None) -> None:
            if reason_not_parked:
                delivery.nack(requeue=True)
            else:
                delivery.ack()

        delivery.publish(message, confirmed)
