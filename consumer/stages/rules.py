"""The rules stage: one event in, its emails out to the outbox (or the event parked).

An event becomes one outcome: parked in ``omero.mail.invalid`` (invalid, or a rule
failed), folded into a flood digest, or planned (its outbox messages). The worker base
(``consumer/stages/worker.py``) publishes them and acks the event only once every outbox
message is confirmed by the broker, so a crash in between re-plans the event rather than
losing mail (the outbox copies carry the same Message-IDs). Planning runs on one thread,
so a large broadcast or a slow directory never stalls the I/O loop and its heartbeats.

With its state kept (``consumer/memory/state.py``), a second copy of an event already planned is
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
from events.broker import BrokerError, Delivery, Done, Message
from events.schemas import Event, InvalidEvent, load_event
from senders.directory import Directory
from senders.plan import Plan, PlanRefused, plan
from senders.rules import MailSender

from ..access.trust import SessionCheck, SessionsUnavailable
from ..outbox import outbox_message
from ..outcomes import FOLLOWED_TYPES, PLANNED, Folded, Outcome, Parked, Planned, Requeue
from ..memory.state import WAITING, RulesState, event_key
from .worker import Worker

if TYPE_CHECKING:
    from ..memory.flood import FloodControl

log = logging.getLogger(__name__)

#: Event types that are not "mail senders" and so do not depend on omero.mail.config.
ALWAYS_ON = frozenset({"admin.broadcast", "web.error"})


#: Outbox messages built and published at a time for one event (see ``Worker._publish_slice``).
PUBLISH_SLICE = 1000

#: Seconds before an event is given back when the state stream, or OMERO's sessions, cannot be read.
STATE_RETRY_PAUSE = 1.0

#: Seconds a second copy of an event waits for the first to be planned before it goes back
#: to the queue: the bound on how long the stage holds it (README, "Every message settles").
CLAIM_WAIT = 60.0


@dataclass(frozen=True)
class Duplicate:
    """A second copy of an event already planned (at ``planned_at``, wall clock): acked, not planned."""

    event: Event
    planned_at: float


@dataclass(frozen=True)
class Waiting:
    """A second copy of an event being planned now: settled once the first one is."""


class Claimed:
    """An event's delivery, from the moment the stage takes it: the claim on its id ends with it.

    The stage wraps every delivery in one before anything else, so whichever path settles it
    (planned and acked, parked, given back after a crash, a callback that raised, a connection
    lost meanwhile) releases the claim, and a copy waiting for this one is acked (recorded) or
    given back (not). Once the event is planned, ``record`` is its state record, appended to
    the state stream before the ack. It reads as the delivery it wraps (what the stage and the
    worker base use of one, spelt out: a ``__getattr__`` cost more than planning a small event).
    """

    __slots__ = ("delivery", "state", "key", "record")

    def __init__(self, delivery: Delivery, state: RulesState | None):
        self.delivery = delivery
        self.state = state
        #: The key this delivery claimed (``RulesState.claim``), None before or without a claim.
        self.key: str | None = None
        self.record: Message | None = None

    body = property(lambda self: self.delivery.body)
    headers = property(lambda self: self.delivery.headers)
    message_id = property(lambda self: self.delivery.message_id)
    content_type = property(lambda self: self.delivery.content_type)
    routing_key = property(lambda self: self.delivery.routing_key)
    user_id = property(lambda self: self.delivery.user_id)
    consumer_tag = property(lambda self: self.delivery.consumer_tag)
    live = property(lambda self: self.delivery.live)

    def publish(self, message: Message, done: Done | None = None) -> None:
        self.delivery.publish(message, done)

    def publish_many(self, messages: Sequence[Message], done: Callable[[list], None]) -> None:
        self.delivery.publish_many(messages, done)

    def ack(self) -> None:
        if self.record is None:
            self._release(False)
            self.delivery.ack()
            return

        def confirmed(reason: str | None) -> None:
            self._release(reason is None)
            if reason is None:
                self.delivery.ack()
            else:
                log.warning("event %s: its record was not confirmed (%s); returning it to the queue",
                            self.delivery.message_id, reason)
                self.delivery.nack(requeue=True)

        self.delivery.publish(self.record, confirmed)

    def nack(self, requeue: bool = True) -> None:
        self._release(False)
        self.delivery.nack(requeue)

    def _release(self, planned: bool) -> None:
        key, self.key = self.key, None
        if key is not None and self.state is not None:
            self.state.settled(key, planned)


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
        #: The flood guard (consumer/memory/flood.py), set by the service; None = every event mailed.
        self.flood: FloodControl | None = None
        #: The duplicate filter and the flood windows' records (consumer/memory/state.py); None = not kept.
        self.state: RulesState | None = None
        #: Finds the web app's session proofs in OMERO's database (consumer/access/sessions.py), set by
        #: the service; None = no OMERO database, so the web app's broadcasts are refused.
        self.sessions: SessionCheck | None = None
        self._caught_up_for: str | None = None
        #: Observer of each event taken, valid and trusted (its activity report: consumer/stages/activity.py).
        self.on_taken: Callable[[Event], None] = lambda event: None
        if not enabled:
            log.warning("omero.mail.config is false: event senders send nothing "
                        "(admin broadcasts and web error reports still go out)")

    def guard_floods(self, flood: FloodControl) -> None:
        """Fold alike events into digests (consumer/memory/flood.py); its timer runs on this stage's thread."""
        self.flood = flood
        flood.attach(self.submit)

    def keep_state(self, state: RulesState) -> None:
        """Fold second copies of events, and record what is planned and folded (consumer/memory/state.py)."""
        self.state = state
        if self.flood is not None:
            self.flood.digest_record = state.digest_record
            self.flood.catch_up = state.catch_up

    def close(self) -> None:
        super().close()
        if self.flood is not None:
            self.flood.close()

    def handle(self, delivery: Delivery) -> None:
        # A Claimed stands in for the delivery it wraps: the same attributes, its own ack and nack.
        super().handle(cast(Delivery, Claimed(delivery, self.state)))

    def process(self, delivery: Delivery) -> Outcome | Duplicate | Waiting:
        try:
            event = load_event(delivery.body)
        except InvalidEvent as exc:
            return Parked(topo.INVALID_QUEUE, str(exc))
        try:
            refusal = self.trust.refuses_event(event, delivery.routing_key, delivery.user_id, self.sessions)
        except SessionsUnavailable as exc:
            # An outage is not a verdict: the broadcast waits, as an event does for the state stream.
            log.warning("event %s: %s; returning it to the queue", event.id, exc)
            time.sleep(STATE_RETRY_PAUSE)
            return Requeue()
        if refusal:
            return Parked(topo.INVALID_QUEUE, f"refused: {refusal}", untrusted=delivery.user_id or "")
        self.on_taken(event)
        if self.state is not None:
            if delivery.consumer_tag != self._caught_up_for and not self._catch_up(self.state, delivery):
                time.sleep(STATE_RETRY_PAUSE)
                return Requeue()
            key = event_key(event.id, delivery.user_id)
            claim = self.state.claim(key, self._second_copy(delivery, event), CLAIM_WAIT)
            if claim == WAITING:
                return Waiting()
            if claim is not None:
                return Duplicate(event, float(claim))
            cast(Claimed, delivery).key = key
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
            cast(Claimed, delivery).record = self.state.event_record(event.id, delivery.user_id, change)
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
            case Parked() | Requeue() if isinstance(delivery, Claimed):
                delivery.record = None  # not planned: nothing to record, whatever came before
        super().settle(delivery, outcome)

    def _catch_up(self, state: RulesState, delivery: Delivery) -> bool:
        """The first event since (re)connecting: learn what other rules stages recorded meanwhile."""
        started = time.monotonic()
        try:
            applied = state.catch_up()
        except BrokerError as exc:
            log.warning("cannot catch up with %s (%s); returning the event to the queue", topo.STATE_STREAM, exc)
            return False
        self._caught_up_for = delivery.consumer_tag
        log.info("caught up with %s in %.2fs: %d record(s) of other rules stages, %d event id(s) known",
                 topo.STATE_STREAM, time.monotonic() - started, applied, len(state.dedupe))
        if self.flood is not None:
            self.flood.activate(delivery)
        return True

    def _second_copy(self, delivery: Delivery, event: Event) -> Callable[[bool | None], None]:
        """What settles a copy that came while the first one was being planned: acked once that
        one is planned, given back if it was not, or after :data:`CLAIM_WAIT` (``None``)."""
        def then(planned: bool | None) -> None:
            if planned:
                self._log_duplicate(event, time.time())
                delivery.ack()
                return
            if planned is None:
                log.warning("event %s %s: a copy still being planned after %.0fs; this copy goes back to the queue",
                            event.id, event.type, CLAIM_WAIT)
            delivery.nack(requeue=True)

        return then

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
