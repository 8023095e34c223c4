"""Every exchange, queue and binding of omero-mail, named and declared in one place.

The names are the contract other programs rely on (README, "How it works"). The same
description feeds the consumer's declarations at connect time and the RabbitMQ
definitions file in ``deploy/``, so the two cannot drift apart. It is built from typed
values (``events/settings.py`` parses the properties).

On a cluster the work queues are quorum queues, with RabbitMQ's recommendations: a
delivery limit, and at-least-once dead-lettering (RabbitMQ 3.10 or later; it needs
``overflow`` ``reject-publish``), so a message on its way to the parking lot or back from
a retry tier is never dropped by a node failure. The parking lots have no delivery limit
(on RabbitMQ 4, :data:`UNLIMITED_DELIVERIES`), so reading them never drops a message. ``omero.mail.events`` has a single
active consumer in every case: one rules stage works and the others stand by, so its flood
guard and duplicate filter see every event. The rules stage keeps that state in a stream
(``omero.mail.rules.state``, RabbitMQ 3.9 or later), trimmed by age. Each consumer process
reports what it did each minute to ``omero.mail.activity`` (``consumer/stages/activity.py``),
a queue bounded by length and age that the web app's Health page reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .settings import QueueSettings, queue_settings
from .values import UNIT_MS

EVENTS_EXCHANGE = "omero.events"
MAIL_EXCHANGE = "omero.mail"
RESULTS_EXCHANGE = "omero.mail.results"

EVENTS_QUEUE = "omero.mail.events"
OUTBOX_QUEUE = "omero.mail.outbox"
FAILED_QUEUE = "omero.mail.failed"
INVALID_QUEUE = "omero.mail.invalid"
#: The rules stage's duplicate filter and flood windows, as a log (consumer/memory/state.py).
STATE_STREAM = "omero.mail.rules.state"
#: A stream drops whole segments only; small ones let its age limit take effect.
STATE_SEGMENT_BYTES = 4_000_000
#: The last broadcasts' ``queued`` outcomes, so ``broadcast status`` takes an ID prefix (consumer/admin/results.py).
BROADCASTS_QUEUE = "omero.mail.broadcasts"
#: One report a minute from each consumer process, for the web app's Health page (consumer/stages/activity.py).
ACTIVITY_QUEUE = "omero.mail.activity"
#: Six hours of one report a minute from four processes; the oldest go first.
ACTIVITY_MAX_REPORTS = 6 * 60 * 4
#: Reports older than this are dropped, however few processes report.
ACTIVITY_MAX_AGE_MS = 6 * 3_600_000
QUEUE_TYPES = ("classic", "quorum", "auto")

#: Routing keys on the omero.mail exchange.
OUTBOX_KEY = "outbox"
FAILED_KEY = "failed"
INVALID_KEY = "invalid"
ACTIVITY_KEY = "activity"

#: A quorum queue's ``x-delivery-limit`` for no limit, which RabbitMQ 4.0 made the default
#: of 20: -1 there. RabbitMQ 3.x has no limit unless one is set, and takes -1 as a limit
#: that drops a message at its first return (measured on 3.10.8), so it gets none.
UNLIMITED_DELIVERIES = -1

#: omero.mail.retry.delays' default, 30s,5m,30m.
DEFAULT_RETRY_DELAYS_MS = (30_000, 300_000, 1_800_000)


def duration_label(ms: int) -> str:
    for unit in ("h", "m", "s"):
        if ms % UNIT_MS[unit] == 0:
            return f"{ms // UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def retry_queue(delay_ms: int) -> str:
    return f"omero.mail.retry.{duration_label(delay_ms)}"


def retry_key(delay_ms: int) -> str:
    return f"retry.{duration_label(delay_ms)}"


def broadcast_queue(event_id: str) -> str:
    """One broadcast's outcomes, declared by ``omero-mail broadcast`` (consumer/admin/results.py)."""
    return f"omero.mail.broadcast.{event_id}"


def result_key(event_id: str, outcome: str) -> str:
    """Routing key on omero.mail.results; bind ``<event id>.#`` to follow one event."""
    return f"{event_id}.{outcome}"


@dataclass(frozen=True)
class Exchange:
    name: str
    type: str


@dataclass(frozen=True)
class Queue:
    name: str
    arguments: dict = field(default_factory=dict)
    #: Arguments only for RabbitMQ 4.0 or later, where they mean what we want (and in 3.x something else).
    from_4: dict = field(default_factory=dict)

    def arguments_on(self, major: int) -> dict:
        """The arguments to declare on RabbitMQ ``major``.x."""
        return {**self.arguments, **self.from_4} if major >= 4 else dict(self.arguments)


@dataclass(frozen=True)
class Binding:
    exchange: str
    queue: str
    routing_key: str


@dataclass(frozen=True)
class Topology:
    exchanges: tuple[Exchange, ...]
    queues: tuple[Queue, ...]
    bindings: tuple[Binding, ...]
    retry_delays_ms: tuple[int, ...]


def build(retry_delays_ms: Sequence[int] = DEFAULT_RETRY_DELAYS_MS, queue_type: str = "classic",
          delivery_limit: int = 5, state_max_age_s: int = 86_400) -> Topology:
    """The whole topology for the given retry tiers (ms) and queue type (classic or quorum).

    ``state_max_age_s`` is how long the rules stage's state stream keeps a record.
    """
    if queue_type not in ("classic", "quorum"):
        raise ValueError(f"queue type must be classic or quorum, not {queue_type!r}")
    delays = tuple(retry_delays_ms)
    base: dict = {"x-queue-type": queue_type}
    work = dict(base)
    safe_dead_letters: dict = {}
    parked_from_4: dict = {}
    if queue_type == "quorum":
        # A parking lot keeps its messages until an admin replays or purges them, however
        # often they are read (each read gives a message back: a delivery to a quorum queue).
        parked_from_4 = {"x-delivery-limit": UNLIMITED_DELIVERIES}
        safe_dead_letters = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        # A message that keeps killing its consumer is dead-lettered after this many deliveries.
        work.update({
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": MAIL_EXCHANGE,
            "x-dead-letter-routing-key": FAILED_KEY,
            **safe_dead_letters,
        })
    events = dict(work, **({"x-dead-letter-routing-key": INVALID_KEY} if queue_type == "quorum" else {}))
    queues = [
        Queue(EVENTS_QUEUE, dict(events, **{"x-single-active-consumer": True})),
        Queue(OUTBOX_QUEUE, work),
        Queue(FAILED_QUEUE, base, parked_from_4),
        Queue(INVALID_QUEUE, base, parked_from_4),
        Queue(STATE_STREAM, {"x-queue-type": "stream", "x-max-age": f"{state_max_age_s}s",
                             "x-stream-max-segment-size-bytes": STATE_SEGMENT_BYTES}),
        Queue(ACTIVITY_QUEUE, dict(base, **{"x-max-length": ACTIVITY_MAX_REPORTS,
                                            "x-message-ttl": ACTIVITY_MAX_AGE_MS})),
    ]
    bindings = [
        Binding(EVENTS_EXCHANGE, EVENTS_QUEUE, "#"),
        Binding(MAIL_EXCHANGE, OUTBOX_QUEUE, OUTBOX_KEY),
        Binding(MAIL_EXCHANGE, FAILED_QUEUE, FAILED_KEY),
        Binding(MAIL_EXCHANGE, INVALID_QUEUE, INVALID_KEY),
        Binding(MAIL_EXCHANGE, ACTIVITY_QUEUE, ACTIVITY_KEY),
    ]
    for delay in delays:
        queues.append(Queue(retry_queue(delay), dict(base, **{
            "x-message-ttl": delay,
            "x-dead-letter-exchange": MAIL_EXCHANGE,
            "x-dead-letter-routing-key": OUTBOX_KEY,
            **safe_dead_letters,
        })))
        bindings.append(Binding(MAIL_EXCHANGE, retry_queue(delay), retry_key(delay)))
    return Topology(
        exchanges=(
            Exchange(EVENTS_EXCHANGE, "topic"),
            Exchange(MAIL_EXCHANGE, "direct"),
            Exchange(RESULTS_EXCHANGE, "topic"),
        ),
        queues=tuple(queues),
        bindings=tuple(bindings),
        retry_delays_ms=delays,
    )


def from_settings(queues: QueueSettings) -> Topology:
    return build(queues.retry_delays_ms, queues.type, queues.delivery_limit, queues.state_max_age_s)


def from_properties(props) -> Topology:
    """For the commands that need the queues and nothing else typed (definitions, broadcast)."""
    return from_settings(queue_settings(props))
