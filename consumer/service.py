"""``omero-mail consume``: assemble the stages from the properties and run them.

Both stages run in one process by default; ``--stage rules`` or ``--stage delivery``
runs one, so they scale apart (many delivery workers on the same outbox; many rules
stages, of which one is active and the others stand by). SIGTERM and SIGINT stop taking
messages, let in-flight ones finish, and exit 0. A topology RabbitMQ refuses (a queue made
with other arguments) stops it at start with one line; an unreachable broker is waited for.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from events import topology as topo
from events.broker import BrokerError, Consumer, Subscription, TopologyRefused, declare_topology, queue_depths
from senders import broadcast, weberror
from senders.directory import Directory, RefreshingDirectory, load_json_directory
from senders.pgdirectory import dsn_from_properties, load_postgres_directory
from senders.transports import make_transport
from senders.xmlconfig import load_senders

from events.config import ConfigError, Properties
from .definitions import topology_for
from .dedupe import DuplicateFilter
from .delivery_stage import DeliveryStage
from .flood import flood_control
from .health import Health, MonitoringServer, application
from .metrics import Metrics, QueueDepths
from .rules_stage import RulesStage
from .state import RulesState

log = logging.getLogger(__name__)

STAGES = ("rules", "delivery")


def make_directory(props: Properties) -> Callable[[], Directory]:
    """The directory backend of ``omero.mail.directory.backend``, cached and refreshed."""
    backend = props["omero.mail.directory.backend"].strip().lower()
    if backend == "json":
        load = partial(load_json_directory, props.get("omero.mail.directory.file") or None)
    elif backend == "postgres":
        load = partial(load_postgres_directory, dsn_from_properties(props))
    else:
        raise ConfigError(f"omero.mail.directory.backend must be json or postgres, not {backend!r}")
    return RefreshingDirectory(load, props.float("omero.mail.directory.refresh"))


class StandbyAware:
    """Queue depths for the health check: a standby rules stage is not stuck on the events
    that wait for the active one (single active consumer)."""

    def __init__(self, depths: QueueDepths, consumer: Consumer):
        self.depths = depths
        self.consumer = consumer

    def get(self) -> dict[str, int] | None:
        found = self.depths.get()
        if found is None or topo.EVENTS_QUEUE in self.consumer.receiving:
            return found
        return {queue: count for queue, count in found.items() if queue != topo.EVENTS_QUEUE}


@dataclass
class Service:
    """A consumer and the stages it feeds; :meth:`run` blocks until stopped."""

    props: Properties
    stages: tuple[str, ...] = STAGES
    consumer: Consumer = field(init=False)
    topology: topo.Topology = field(init=False)
    rules: RulesStage | None = field(init=False, default=None)
    delivery: DeliveryStage | None = field(init=False, default=None)
    metrics: Metrics = field(init=False)
    monitoring: MonitoringServer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        props = self.props
        topology = topology_for(props)
        url = props["omero.mail.broker.url"]
        # The state stream's records are not work waiting: they are not counted.
        depths = QueueDepths(lambda: queue_depths(url, [q.name for q in topology.queues
                                                       if q.name != topo.STATE_STREAM]))
        self.metrics = Metrics(depths)
        subscriptions = []
        prefetch = props.int("omero.mail.consumer.prefetch")
        if "rules" in self.stages:
            directory = make_directory(props)
            self.rules = RulesStage(
                senders=load_senders(props["omero.mail.senders.dir"], properties=props),
                directory=directory,
                mail_from=props["omero.mail.from"],
                enabled=props.bool("omero.mail.config"),
                planners={"admin.broadcast": broadcast.planner(props, directory), "web.error": weberror.planner(props)},
            )
            self.rules.on_event = self.metrics.on_event
            subscriptions.append(Subscription(topo.EVENTS_QUEUE, self.rules.handle, prefetch))
            self.rules.guard_floods(flood_control(props))
            dedupe = DuplicateFilter(props.duration("omero.mail.dedupe.window"), props.int("omero.mail.dedupe.max"))
            self.rules.keep_state(RulesState(url, dedupe, self.rules.flood.guard, topo.state_max_age_s(props)))
        if "delivery" in self.stages:
            make_transport(props).close()  # fail at start on a bad omero.mail.bean
            if not props.bool("omero.mail.smtp.ssl.verify"):
                log.warning("omero.mail.smtp.ssl.verify is false: the SMTP server's certificate and host name "
                            "are NOT checked, so anyone on the path can read the mail and the password")
            self.delivery = DeliveryStage(
                lambda: self.metrics.track_transport(make_transport(props)),
                connections=props.int("omero.mail.delivery.connections"),
                retry_delays_ms=topology.retry_delays_ms,
                show_addresses=props.bool("omero.mail.log.addresses"),
                crash_limit=props.int("omero.mail.queue.delivery-limit"),
            )
            self.delivery.on_outcome = self.metrics.on_outcome
            self.delivery.on_accepted = self.metrics.on_accepted
            subscriptions.append(Subscription(topo.OUTBOX_QUEUE, self.delivery.handle, prefetch))
        self.topology = topology
        self.consumer = Consumer(
            url, subscriptions,
            heartbeat=props.int("omero.mail.broker.heartbeat"),
            on_connect=lambda: declare_topology(url, topology),
        )
        port = props["omero.mail.metrics.port"].strip()
        if port and port != "0":
            health = Health(self.consumer, StandbyAware(depths, self.consumer), [s.queue for s in subscriptions],
                            topo.parse_duration_ms(props["omero.mail.health.stuck-after"]) / 1000)
            self.monitoring = MonitoringServer(props["omero.mail.metrics.host"], props.int("omero.mail.metrics.port"),
                                               application(self.metrics.registry, health.check))

    def run(self) -> None:
        self._declare()
        if self.monitoring:
            self.monitoring.start()
            log.info("metrics on http://%s:%d/metrics, health on /healthz",
                     self.props["omero.mail.metrics.host"], self.monitoring.port)
        for stage in (self.rules, self.delivery):
            if stage:
                stage.start()
        try:
            self.consumer.run()
        finally:
            if self.monitoring:
                self.monitoring.close()
            if self.rules:
                self.rules.close()
            if self.delivery:
                self.delivery.close()

    def stop(self) -> None:
        self.consumer.stop()

    def _declare(self) -> None:
        """Declare once before consuming: a refusal is the admin's to fix, an outage the consumer's to wait out."""
        try:
            declare_topology(self.consumer.url, self.topology)
        except TopologyRefused:
            raise
        except BrokerError as exc:
            log.warning("%s; waiting for RabbitMQ", exc)


def run(props: Properties, stages: tuple[str, ...] = STAGES) -> int:
    if not props["omero.mail.from"].strip():
        log.error("omero.mail.from is empty: mails cannot be sent")
    service = Service(props, stages)

    def on_signal(signum, _frame):
        log.info("received %s: finishing in-flight messages, then stopping", signal.Signals(signum).name)
        service.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.run()
    return 0
