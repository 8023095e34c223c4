"""The rules stage: one event in, its emails out to the outbox (or the event parked).

An event becomes one outcome: parked in ``omero.mail.invalid`` (invalid, or a rule
failed), folded into a flood digest, or planned (its outbox messages). The worker base
(``consumer/worker.py``) publishes them and acks the event only once every outbox
message is confirmed by the broker, so a crash in between re-plans the event rather than
losing mail (the outbox copies carry the same Message-IDs). Planning runs on one thread,
so a large broadcast or a slow directory never stalls the I/O loop and its heartbeats.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from events import topology as topo
from events.broker import Delivery, Message
from events.schemas import Event, InvalidEvent, load_event
from senders.directory import Directory
from senders.mail import Mail
from senders.plan import Plan, PlanRefused, plan
from senders.rules import MailSender

from . import outcomes
from .outcomes import Folded, Outcome, Parked, Planned
from .worker import Worker

log = logging.getLogger(__name__)

#: Event types that are not "mail senders" and so do not depend on omero.mail.config.
ALWAYS_ON = frozenset({"admin.broadcast", "web.error"})


#: Outbox messages built and published at a time for one event (see ``Worker._publish_slice``).
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


class RulesStage(Worker):
    name = "rules"
    queue = topo.EVENTS_QUEUE
    parking = topo.INVALID_QUEUE
    crashed = "event %s crashed the rules stage"
    crash_reason = "rules stage crashed"

    def __init__(self, senders: Sequence[MailSender], directory: Callable[[], Directory], mail_from: str,
                 enabled: bool = True, planners: dict[str, Callable[[Event], Plan]] | None = None):
        super().__init__(threads=1)
        self.senders = list(senders)
        self.directory = directory
        self.mail_from = mail_from
        self.enabled = enabled
        #: Event types planned by something other than the XML senders (broadcast, web errors).
        self.planners = dict(planners or {})
        #: The flood guard (consumer/flood.py), set by the service; None = every event mailed.
        self.flood = None
        if not enabled:
            log.warning("omero.mail.config is false: event senders send nothing "
                        "(admin broadcasts and web error reports still go out)")

    def guard_floods(self, flood) -> None:
        """Fold alike events into digests (consumer/flood.py); its timer runs on this stage's thread."""
        self.flood = flood
        flood.attach(self.submit)

    def close(self) -> None:
        super().close()
        if self.flood is not None:
            self.flood.close()

    def process(self, delivery: Delivery) -> Outcome:
        try:
            event = load_event(delivery.body)
        except InvalidEvent as exc:
            return Parked(topo.INVALID_QUEUE, str(exc))
        refusal = self.trust.refuses_event(event, delivery.routing_key, delivery.user_id)
        if refusal:
            return Parked(topo.INVALID_QUEUE, f"refused: {refusal}")
        try:
            result = self.plan(event)
        except PlanRefused as exc:
            # Expected input (a non-admin's broadcast, say): the worker logs the one WARNING line.
            return Parked(topo.INVALID_QUEUE, f"refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - a rule bug parks the event, it never loops
            log.exception("planning event %s failed", event.id)
            return Parked(topo.INVALID_QUEUE, f"rules failed: {type(exc).__name__}: {exc}")
        if self.flood is not None and self.flood.fold(event, result):
            return Folded(event, result)
        occurred_at = event.occurred_at.isoformat()
        return Planned(event, result, (outbox_message(mail, occurred_at) for mail in result.mails), PUBLISH_SLICE)

    def plan(self, event: Event) -> Plan:
        planner = self.planners.get(event.type)
        if planner is not None:
            return planner(event)
        if not self.enabled and event.type not in ALWAYS_ON:
            return Plan()
        return plan(event, self.senders, self.directory(), self.mail_from)
