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
from senders.pgdirectory import load_postgres_directory
from senders.transports import make_transport
from senders.xmlconfig import NoSenders, active_senders, senders_dir

from events.config import ConfigError, Properties
from events.omerodb import describe
from events.settings import Settings, directory_settings, read_settings
from ..memory.dedupe import DuplicateFilter
from ..access.definitions import declared_topology
from .activity import Activity
from .delivery import DeliveryStage
from ..memory.flood import flood_control
from .health import Depths, Health, MonitoringServer, application
from .metrics import Metrics, QueueDepths
from .rules import RulesStage
from ..memory.state import RulesState
from ..access.sessions import omero_sessions
from ..access.trust import CHECK, WEBAPP_USER, Trust, broker_user

log = logging.getLogger(__name__)

STAGES = ("rules", "delivery")


def make_directory(props: Properties) -> Callable[[], Directory]:
    """The directory backend of ``omero.mail.directory.backend``, cached and refreshed."""
    settings = directory_settings(props)
    if settings.backend == "json":
        load = partial(load_json_directory, settings.file)
    else:
        load = partial(load_postgres_directory, settings.dsn)
    return RefreshingDirectory(load, settings.refresh)


def directory_source(props: Properties) -> str:
    """Where :func:`make_directory` reads, for the line ``consume`` logs at start."""
    settings = directory_settings(props)
    if settings.backend == "postgres":
        return f"OMERO's database {describe(settings.dsn)}"
    return settings.file or "the embedded one (OMERO's bootstrap rows: root has no address)"


class StandbyAware:
    """Queue depths for the health check: a standby rules stage is not stuck on the events
    that wait for the active one (single active consumer)."""

    def __init__(self, depths: Depths, consumer: Consumer):
        self.depths = depths
        self.consumer = consumer

    def get(self) -> dict[str, int] | None:
        found = self.depths.get()
        if found is None or topo.EVENTS_QUEUE in self.consumer.receiving:
            return found
        return {queue: count for queue, count in found.items() if queue != topo.EVENTS_QUEUE}


@dataclass
class Service:
    """A consumer and the stages it feeds; :meth:`run` blocks until stopped.

    Every typed property is read and checked first (``events/settings.py``), before
    anything connects; the stages get typed values.
    """

    props: Properties
    stages: tuple[str, ...] = STAGES
    settings: Settings = field(init=False)
    consumer: Consumer = field(init=False)
    topology: topo.Topology = field(init=False)
    rules: RulesStage | None = field(init=False, default=None)
    delivery: DeliveryStage | None = field(init=False, default=None)
    metrics: Metrics = field(init=False)
    monitoring: MonitoringServer | None = field(init=False, default=None)
    activity: Activity | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        props = self.props
        settings = self.settings = read_settings(props)
        topology = declared_topology(settings.queues)
        url = settings.broker_url
        # The state stream's records are not work waiting: they are not counted.
        depths = QueueDepths(lambda: queue_depths(url, [q.name for q in topology.queues
                                                       if q.name != topo.STATE_STREAM]))
        self.metrics = Metrics(depths)
        subscriptions = []
        prefetch = settings.prefetch
        trust = self._trust(url)
        if "rules" in self.stages:
            directory = make_directory(props)
            log.info("directory: %s", directory_source(props))
            where = senders_dir(settings.senders_dir)
            try:
                senders = active_senders(where, props, required=settings.senders_enabled)
            except NoSenders as exc:
                raise ConfigError(str(exc)) from None
            log.info("%d senders loaded from %s", sum(1 for s in senders if s.enabled), where)
            self.rules = RulesStage(
                senders=senders,
                directory=directory,
                mail_from=settings.mail_from,
                enabled=settings.senders_enabled,
                planners={"admin.broadcast": broadcast.planner(props, directory), "web.error": weberror.planner(props)},
            )
            self.rules.on_event = self.metrics.on_event
            self.rules.trust = trust
            self.rules.sessions = omero_sessions(settings.directory)
            if trust.checked:
                log.info("the web app's broadcasts (%s %s): %s", WEBAPP_USER, trust.webapp_user,
                         f"checked against {self.rules.sessions}" if self.rules.sessions
                         else "refused, no OMERO database to check their session proofs in")
            subscriptions.append(Subscription(topo.EVENTS_QUEUE, self.rules.handle, prefetch))
            flood = flood_control(settings.flood, url)
            flood.on_unguarded = self.metrics.on_flood_unguarded
            self.rules.guard_floods(flood)
            dedupe = DuplicateFilter(settings.dedupe.window, settings.dedupe.max)
            self.rules.keep_state(RulesState(url, dedupe, flood.guard, settings.queues.state_max_age_s))
        if "delivery" in self.stages:
            make_transport(settings).close()  # fail at start on a bad omero.mail.bean
            if not settings.smtp.verify:
                log.warning("omero.mail.smtp.ssl.verify is false: the SMTP server's certificate and host name "
                            "are NOT checked, so anyone on the path can read the mail and the password")
            self.delivery = DeliveryStage(
                lambda: self.metrics.track_transport(make_transport(settings)),
                connections=settings.delivery_connections,
                retry_delays_ms=topology.retry_delays_ms,
                show_addresses=settings.log_addresses,
                crash_limit=settings.queues.delivery_limit,
            )
            self.delivery.on_outcome = self.metrics.on_outcome
            self.delivery.trust = trust
            self.delivery.on_accepted = self.metrics.on_accepted
            subscriptions.append(Subscription(topo.OUTBOX_QUEUE, self.delivery.handle, prefetch))
        self._report_activity(url, settings.monitoring.activity_interval)
        self.topology = topology
        self.consumer = Consumer(
            url, subscriptions,
            heartbeat=settings.heartbeat,
            on_connect=lambda: declare_topology(url, topology),
        )
        monitoring = settings.monitoring
        if monitoring.port is not None:
            health = Health(self.consumer, StandbyAware(depths, self.consumer), [s.queue for s in subscriptions],
                            monitoring.stuck_after)
            self.monitoring = MonitoringServer(monitoring.host, monitoring.port,
                                               application(self.metrics.registry, health.check))

    def _report_activity(self, url: str, interval: float) -> None:
        """The stages also tell their activity report what they do (consumer/stages/activity.py)."""
        if interval <= 0:
            return
        activity = self.activity = Activity(url, self.stages, interval,
                                            lambda: (self.consumer.connected.is_set(), self.consumer.receiving))
        if self.rules:
            self.rules.on_event = _both(self.rules.on_event, activity.on_event)
            self.rules.on_taken = activity.on_taken
        if self.delivery:
            self.delivery.on_outcome = _both(self.delivery.on_outcome, activity.on_outcome)

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
        self._declare()
        if self.monitoring:
            self.monitoring.start()
            log.info("metrics on http://%s:%d/metrics, health on /healthz",
                     self.settings.monitoring.host, self.monitoring.port)
        for stage in (self.rules, self.delivery):
            if stage:
                stage.start()
        if self.activity:
            self.activity.start()
        try:
            self.consumer.run()
        finally:
            if self.monitoring:
                self.monitoring.close()
            if self.rules:
                self.rules.close()
            if self.delivery:
                self.delivery.close()
            if self.activity:
                self.activity.close()  # last, so its last report counts all the stages did

    def stop(self) -> None:
        if self.rules and self.rules.flood:
            self.rules.flood.stopping()
        self.consumer.stop()

    def _declare(self) -> None:
        """Declare once before consuming: a refusal is the admin's to fix, an outage the consumer's to wait out."""
        try:
            declare_topology(self.consumer.url, self.topology)
        except TopologyRefused:
            raise
        except BrokerError as exc:
            log.warning("%s; waiting for RabbitMQ", exc)


def _both(first: Callable, second: Callable) -> Callable:
    """One observer that calls two."""
    def both(*args) -> None:
        first(*args)
        second(*args)

    return both


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
