"""The rules stage: one event in, its emails out to the outbox (or the event parked).

An event becomes one outcome: parked in ``omero.mail.invalid`` (invalid, or a rule
failed), folded into a flood digest, or planned (its outbox messages). The worker base
(``consumer/worker.py``) publishes them and acks the event only once every outbox
message is confirmed by the broker, so a crash in between re-plans the event rather than
losing mail (the outbox copies carry the same Message-IDs). Planning runs on one thread,
so a large broadcast or a slow directory never stalls the I/O loop and its heartbeats.

With its state kept (``consumer/state.py``), a second copy of an event already planned is
acked and logged instead (a :class:`Duplicate`), and the ack of a planned or folded event
waits for its record in the state stream.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Sequence, cast

from events import topology as topo
from events.broker import BrokerError, Delivery, Message
from events.schemas import Event, InvalidEvent, load_event
from senders.directory import Directory
from senders.plan import Plan, PlanRefused, plan
from senders.rules import MailSender

from .outbox import outbox_message
from .outcomes import FOLLOWED_TYPES, PLANNED, Folded, Outcome, Parked, Planned, Requeue
from .state import WAITING, RulesState
from .worker import Worker

if TYPE_CHECKING:
    from .flood import FloodControl

log = logging.getLogger(__name__)

#: Event types that are not "mail senders" and so do not depend on omero.mail.config.
ALWAYS_ON = frozenset({"admin.broadcast", "web.error"})


#: Outbox messages built and published at a time for one event (see ``Worker._publish_slice``).
PUBLISH_SLICE = 1000

#: Seconds before an event is given back when the state stream cannot be read.
STATE_RETRY_PAUSE = 1.0


@dataclass(frozen=True)
class Duplicate:
    """A second copy of an event already planned (at ``planned_at``, wall clock): acked, not planned."""

    event: Event
    planned_at: float


@dataclass(frozen=True)
class Waiting:
    """A second copy of an event being planned now: settled once the first one is."""


class Recorded:
    """A claimed event's delivery whose ack first appends its record to the state stream.

    Everything else is the delivery's own. The claim is released whatever happens, so a
    copy waiting for this one is acked (recorded) or given back (not).
    """

    def __init__(self, delivery: Delivery, state: RulesState, event_id: str, record: Message | None):
        self._delivery = delivery
        self._state = state
        self._event_id = event_id
        self._record = record

    def __getattr__(self, name: str):
        return getattr(self._delivery, name)

    def ack(self) -> None:
        if self._record is None:
            self._state.settled(self._event_id, False)
            self._delivery.ack()
            return

        def confirmed(reason: str | None) -> None:
            self._state.settled(self._event_id, reason is None)
            if reason is None:
                self._delivery.ack()
            else:
                log.warning("event %s: its record was not confirmed (%s); returning it to the queue",
                            self._event_id, reason)
                self._delivery.nack(requeue=True)

        self._delivery.publish(self._record, confirmed)

    def nack(self, requeue: bool = True) -> None:
        self._state.settled(self._event_id, False)
        self._delivery.nack(requeue)


class RulesStage(Worker[Duplicate | Waiting]):
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
        self.flood: FloodControl | None = None
        #: The duplicate filter and the flood windows' records (consumer/state.py); None = not kept.
        self.state: RulesState | None = None
        self._caught_up_for: str | None = None
        #: Deliveries whose event id is claimed -> the record to append before their ack.
        self._claimed: dict[Delivery, tuple[str, Message | None]] = {}
        if not enabled:
            log.warning("omero.mail.config is false: event senders send nothing "
                        "(admin broadcasts and web error reports still go out)")

    def guard_floods(self, flood: FloodControl) -> None:
        """Fold alike events into digests (consumer/flood.py); its timer runs on this stage's thread."""
        self.flood = flood
        flood.attach(self.submit)

    def keep_state(self, state: RulesState) -> None:
        """Fold second copies of events, and record what is planned and folded (consumer/state.py)."""
        self.state = state
        if self.flood is not None:
            self.flood.digest_record = state.digest_record

    def close(self) -> None:
        super().close()
        if self.flood is not None:
            self.flood.close()

    def process(self, delivery: Delivery) -> Outcome | Duplicate | Waiting:
        try:
            event = load_event(delivery.body)
        except InvalidEvent as exc:
            return Parked(topo.INVALID_QUEUE, str(exc))
        refusal = self.trust.refuses_event(event, delivery.routing_key, delivery.user_id)
        if refusal:
            return Parked(topo.INVALID_QUEUE, f"refused: {refusal}", untrusted=delivery.user_id or "")
        if self.state is not None:
            if delivery.consumer_tag != self._caught_up_for and not self._catch_up(self.state, delivery.consumer_tag):
                time.sleep(STATE_RETRY_PAUSE)
                return Requeue()
            claim = self.state.claim(event.id, lambda planned: self._second_copy(delivery, event, planned))
            if claim == WAITING:
                return Waiting()
            if claim is not None:
                return Duplicate(event, float(claim))
            self._claimed[delivery] = (event.id, None)
        try:
            result = self.plan(event)
        except PlanRefused as exc:
            # Expected input (a non-admin's broadcast, say): the worker logs the one WARNING line.
            return Parked(topo.INVALID_QUEUE, f"refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - a rule bug parks the event, it never loops
            log.exception("planning event %s failed", event.id)
            return Parked(topo.INVALID_QUEUE, f"rules failed: {type(exc).__name__}: {exc}")
        folded = self.flood is not None and self.flood.fold(event, result)
        if self.state is not None:
            change = self.flood.change(event, result, folded) if self.flood is not None else None
            self._claimed[delivery] = (event.id, self.state.event_record(event.id, change))
        followed = event.type in FOLLOWED_TYPES
        report = followed or self.listeners.wanted(PLANNED)
        if folded:
            return Folded(event, result, report, followed)
        occurred_at = event.occurred_at.isoformat()
        return Planned(event, result, (outbox_message(mail, occurred_at, followed) for mail in result.mails),
                       PUBLISH_SLICE, report, followed)

    def settle(self, delivery: Delivery, outcome) -> None:
        match outcome:
            case Duplicate(event=event, planned_at=at):
                self._log_duplicate(event, at)
                delivery.ack()
                return
            case Waiting():
                return
        claimed = self._claimed.pop(delivery, None)
        if claimed is not None and self.state is not None:
            # A Recorded stands in for the delivery it wraps: the same attributes, its own ack and nack.
            delivery = cast(Delivery, Recorded(delivery, self.state, *claimed))
        super().settle(delivery, outcome)

    def _catch_up(self, state: RulesState, consumer_tag: str) -> bool:
        """The first event since (re)connecting: learn what other rules stages recorded meanwhile."""
        started = time.monotonic()
        try:
            applied = state.catch_up()
        except BrokerError as exc:
            log.warning("cannot catch up with %s (%s); returning the event to the queue", topo.STATE_STREAM, exc)
            return False
        self._caught_up_for = consumer_tag
        log.info("caught up with %s in %.2fs: %d record(s) of other rules stages, %d event id(s) known",
                 topo.STATE_STREAM, time.monotonic() - started, applied, len(state.dedupe))
        if self.flood is not None:
            self.flood.reschedule()
        return True

    def _second_copy(self, delivery: Delivery, event: Event, planned: bool) -> None:
        """The copy being planned when this one came is settled: ack this one, or give it back."""
        if planned:
            self._log_duplicate(event, time.time())
            delivery.ack()
        else:
            delivery.nack(requeue=True)

    @staticmethod
    def _log_duplicate(event: Event, planned_at: float) -> None:
        when = datetime.fromtimestamp(planned_at, timezone.utc).isoformat(timespec="seconds")
        log.info("event %s %s: a second copy of an event planned at %s; acked, not planned again",
                 event.id, event.type, when)

    def plan(self, event: Event) -> Plan:
        planner = self.planners.get(event.type)
        if planner is not None:
            return planner(event)
        if not self.enabled and event.type not in ALWAYS_ON:
            return Plan()
        return plan(event, self.senders, self.directory(), self.mail_from)
