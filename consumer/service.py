"""``omero-mail consume``: assemble the stages from the properties and run them.

Both stages run in one process by default; ``--stage rules`` or ``--stage delivery``
runs one, so they scale apart (many delivery workers on the same outbox). SIGTERM and
SIGINT stop taking messages, let in-flight ones finish, and exit 0.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from events import topology as topo
from events.broker import Consumer, Subscription, declare_topology, queue_depths
from senders import broadcast, weberror
from senders.directory import Directory, RefreshingDirectory, load_json_directory
from senders.pgdirectory import dsn_from_properties, load_postgres_directory
from senders.transports import make_transport
from senders.xmlconfig import NoSenders, active_senders, senders_dir

from events.config import ConfigError, Properties
from .definitions import topology_for
from .delivery_stage import DeliveryStage
from .flood import flood_control
from .health import Health, MonitoringServer, application
from .metrics import Metrics, QueueDepths
from .rules_stage import RulesStage
from .trust import CHECK, Trust, broker_user

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


@dataclass
class Service:
    """A consumer and the stages it feeds; :meth:`run` blocks until stopped."""

    props: Properties
    stages: tuple[str, ...] = STAGES
    consumer: Consumer = field(init=False)
    rules: RulesStage | None = field(init=False, default=None)
    delivery: DeliveryStage | None = field(init=False, default=None)
    metrics: Metrics = field(init=False)
    monitoring: MonitoringServer | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        props = self.props
        topology = topology_for(props)
        url = props["omero.mail.broker.url"]
        depths = QueueDepths(lambda: queue_depths(url, [q.name for q in topology.queues]))
        self.metrics = Metrics(depths)
        subscriptions = []
        prefetch = props.int("omero.mail.consumer.prefetch")
        trust = self._trust(url)
        if "rules" in self.stages:
            directory = make_directory(props)
            where = senders_dir(props["omero.mail.senders.dir"])
            try:
                senders = active_senders(where, props, required=props.bool("omero.mail.config"))
            except NoSenders as exc:
                raise ConfigError(str(exc)) from None
            log.info("%d senders loaded from %s", sum(1 for s in senders if s.enabled), where)
            self.rules = RulesStage(
                senders=senders,
                directory=directory,
                mail_from=props["omero.mail.from"],
                enabled=props.bool("omero.mail.config"),
                planners={"admin.broadcast": broadcast.planner(props, directory), "web.error": weberror.planner(props)},
            )
            self.rules.on_event = self.metrics.on_event
            self.rules.trust = trust
            subscriptions.append(Subscription(topo.EVENTS_QUEUE, self.rules.handle, prefetch))
            self.rules.guard_floods(flood_control(props))
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
            self.delivery.trust = trust
            self.delivery.on_accepted = self.metrics.on_accepted
            subscriptions.append(Subscription(topo.OUTBOX_QUEUE, self.delivery.handle, prefetch))
        self.consumer = Consumer(
            url, subscriptions,
            heartbeat=props.int("omero.mail.broker.heartbeat"),
            on_connect=lambda: declare_topology(url, topology),
        )
        port = props["omero.mail.metrics.port"].strip()
        if port and port != "0":
            health = Health(self.consumer, depths, [s.queue for s in subscriptions],
                            topo.parse_duration_ms(props["omero.mail.health.stuck-after"]) / 1000)
            self.monitoring = MonitoringServer(props["omero.mail.metrics.host"], props.int("omero.mail.metrics.port"),
                                               application(self.metrics.registry, health.check))

    def _trust(self, url: str) -> Trust:
        """Which publishers the stages accept; off (and said so, once) for the development default."""
        trust = Trust.from_properties(self.props)
        if not trust.checked:
            log.warning("%s is false: publishers are not authenticated, so whoever can publish to this broker "
                        "can have any mail sent (README, Security)", CHECK)
        for stage in self.stages:
            refusal = trust.refuses_to_run(stage, broker_user(url))
            if refusal:
                raise ConfigError(refusal)
        return trust

    def run(self) -> None:
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
