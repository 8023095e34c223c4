"""omero-mail's settings, typed: every property with a type read and checked once, at start.

:func:`read_settings` turns the property bag (``events/config.py``: OMERO's readers, as
OMERO reads them) into frozen dataclasses, one per piece that needs them: the SMTP
transport, the queues, the flood guard, the directory, the monitoring endpoint, the
bridge. A value that does not parse is one :class:`ConfigError` line naming the key, the
value, where it was set and the form expected, before anything connects: every command
reads them first (:func:`checked_at_start`), which also warns about each key under
``omero.mail.`` that omero-mail does not read, since a misspelt key would silently keep
its default. The pieces then take these values, never the bag. The bag stays on
:attr:`Settings.props` for what reads keys of its own: a site's transport, the sender
files' ``${...}`` placeholders, the broadcast and web-error planners.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping

from . import values
from .config import (FLOOD_FIELDS, ConfigError, Properties, Secret, env_name, is_known, nearest_known,
                     unread_environment)

log = logging.getLogger(__name__)

SSL_FACTORY = "javax.net.ssl.SSLSocketFactory"
FLOOD_PREFIX = "omero.mail.flood."
#: ``auto``: quorum when the broker URL names several nodes (a cluster), classic for one.
QUEUE_TYPES = ("auto", "classic", "quorum")
DIRECTORY_BACKENDS = ("json", "postgres")
OMERO_DB_KEYS = ("omero.db.host", "omero.db.port", "omero.db.name", "omero.db.user", "omero.db.pass")
#: The eventlog actions the bridge can publish (events/bridge/mapping.py maps each to its event type).
BRIDGE_ACTIONS = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class SMTPSettings:
    """OMERO's ``omero.mail.*`` SMTP properties, as the SMTP transport uses them."""

    host: str
    port: int
    #: TLS from the first byte: ``smtps``, or OMERO's SSL socket factory (port 465).
    implicit_tls: bool
    starttls: bool
    auth: bool
    username: str
    password: Secret
    connect_timeout: float
    timeout: float
    debug: bool
    verify: bool
    cafile: str | None


@dataclass(frozen=True)
class QueueSettings:
    retry_delays_ms: tuple[int, ...]
    type: str
    delivery_limit: int
    #: The broker was loaded from the definitions: TTL and dead-lettering are its policies.
    policies: bool
    #: How long the rules stage's state stream keeps a record: the longest window it serves.
    state_max_age_s: int = 86_400


@dataclass(frozen=True)
class DedupeSettings:
    """``omero.mail.dedupe.*``: how long, and how many, planned event ids are remembered."""

    window: float
    max: int


@dataclass(frozen=True)
class FloodOverride:
    """``omero.mail.flood.<type>.*``: None where the type takes the general value."""

    window: float | None = None
    threshold: int | None = None
    key: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FloodSettings:
    window: float
    threshold: int
    by_type: Mapping[str, FloodOverride] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectorySettings:
    backend: str
    file: str | None
    refresh: float
    #: OMERO's database, for the postgres backend: the directory's DSN, else the bridge's, else omero.db.*.
    dsn: str = ""


@dataclass(frozen=True)
class MonitoringSettings:
    host: str
    #: None: no /metrics and /healthz.
    port: int | None
    stuck_after: float
    #: Seconds between a consumer process's activity reports (consumer/stages/activity.py); 0: none.
    activity_interval: float = 60.0


@dataclass(frozen=True)
class WebSettings:
    """The web app's: where ``omero-mail web`` listens, and the broker URL it publishes with inside OMERO.web."""

    host: str
    port: int
    broker_url: str = field(repr=False)
    #: The session and CSRF cookies only over HTTPS.
    secure_cookies: bool = False
    #: The reverse proxy whose X-Forwarded-For and -Proto are believed ("": none).
    trusted_proxy: str = ""
    #: Host names the app answers to besides its own address, its machine's name and localhost.
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class BridgeOptions:
    """``omero.mail.bridge.*`` values; paths and the database are the bridge's own to resolve."""

    poll: float
    batch: int
    actions: frozenset[str]
    classes: frozenset[str]
    metrics_port: int | None


@dataclass(frozen=True)
class Settings:
    broker_url: str = field(repr=False)
    heartbeat: int
    prefetch: int
    delivery_connections: int
    #: ``omero.mail.config``: event senders on.
    senders_enabled: bool
    senders_dir: str
    mail_from: str
    source: str
    bean: str
    log_addresses: bool
    broadcast_results_expires_ms: int
    #: How long ``omero-mail broadcast`` waits for RabbitMQ's confirm.
    broadcast_timeout: float
    smtp: SMTPSettings
    queues: QueueSettings
    flood: FloodSettings
    dedupe: DedupeSettings
    directory: DirectorySettings
    monitoring: MonitoringSettings
    bridge: BridgeOptions
    web: WebSettings
    props: Properties = field(repr=False, compare=False)


def smtp_settings(props: Properties) -> SMTPSettings:
    factory = props["omero.mail.smtp.socketFactory.class"].strip()
    protocol = props.typed("omero.mail.transport.protocol", values.one_of, ("smtp", "smtps"))
    implicit_tls = protocol == "smtps" or factory == SSL_FACTORY
    # OMERO's socket factory opens its own port; the plain one is omero.mail.port.
    port_key = "omero.mail.smtp.socketFactory.port" if factory == SSL_FACTORY else "omero.mail.port"
    if not props[port_key].strip():
        port_key = "omero.mail.port"
    port = props.typed(port_key, values.port) if props[port_key].strip() else (465 if implicit_tls else 25)
    if props.typed("omero.mail.smtp.socketFactory.fallback", values.boolean):
        raise ConfigError("omero.mail.smtp.socketFactory.fallback=true is refused: it would send mail and password "
                          "in clear text when TLS fails; set it to false")
    return SMTPSettings(
        host=props["omero.mail.host"].strip(),
        port=port,
        implicit_tls=implicit_tls,
        starttls=props.typed("omero.mail.smtp.starttls.enable", values.boolean),
        auth=props.typed("omero.mail.smtp.auth", values.boolean),
        username=props["omero.mail.username"],
        password=props.secret_ref("omero.mail.password"),
        connect_timeout=props.typed("omero.mail.smtp.connectiontimeout", values.whole, 1) / 1000,
        timeout=props.typed("omero.mail.smtp.timeout", values.whole, 1) / 1000,
        debug=props.typed("omero.mail.smtp.debug", values.boolean),
        verify=props.typed("omero.mail.smtp.ssl.verify", values.boolean),
        cafile=props["omero.mail.smtp.ssl.cafile"].strip() or None,
    )


def queue_settings(props: Properties) -> QueueSettings:
    chosen = props.typed("omero.mail.queue.type", values.one_of, QUEUE_TYPES)
    return QueueSettings(
        retry_delays_ms=props.typed("omero.mail.retry.delays", values.durations_ms),
        type=resolve_queue_type(chosen, props["omero.mail.broker.url"]),
        delivery_limit=props.typed("omero.mail.queue.delivery-limit", values.whole, 1),
        policies=props.typed("omero.mail.queue.policies", values.boolean),
        state_max_age_s=_state_max_age_s(props),
    )


def resolve_queue_type(chosen: str, broker_url: str) -> str:
    """``auto`` is quorum when the broker URL names several nodes, classic when it names one."""
    if chosen != "auto":
        return chosen
    from .broker.connection import addresses  # parses the node list; only commands that declare queues need it

    return "quorum" if len(addresses(broker_url)) > 1 else "classic"


def _state_max_age_s(props: Properties) -> int:
    """The state stream keeps what the duplicate filter and the longest flood window need."""
    windows = [props.typed(key, values.seconds) for key in props
               if props[key].strip() and (key == "omero.mail.dedupe.window"
                                          or (key.startswith(FLOOD_PREFIX) and key.endswith("window")))]
    return max(1, math.ceil(max(windows, default=0)))


def dedupe_settings(props: Properties) -> DedupeSettings:
    return DedupeSettings(window=props.typed("omero.mail.dedupe.window", values.seconds),
                          max=props.typed("omero.mail.dedupe.max", values.whole, 1))


def flood_settings(props: Properties) -> FloodSettings:
    """The general window and threshold, and each ``omero.mail.flood.<type>.window|threshold|key`` set."""
    by_type: dict[str, dict] = {}
    for key in props:
        if not key.startswith(FLOOD_PREFIX):
            continue
        kind, _, name = key[len(FLOOD_PREFIX):].rpartition(".")
        if kind and name in FLOOD_FIELDS and props[key].strip():
            by_type.setdefault(kind, {})[name] = key
    overrides = {}
    for kind, keys in sorted(by_type.items()):
        overrides[kind] = FloodOverride(
            window=props.typed(keys["window"], values.seconds) if "window" in keys else None,
            threshold=props.typed(keys["threshold"], values.whole) if "threshold" in keys else None,
            key=values.names(props[keys["key"]]) if "key" in keys else None,
        )
    return FloodSettings(
        window=props.typed("omero.mail.flood.window", values.seconds),
        threshold=props.typed("omero.mail.flood.threshold", values.whole),
        by_type=overrides,
    )


def directory_settings(props: Properties) -> DirectorySettings:
    # OMERO's database port, read for the postgres directory and the bridge.
    props.typed("omero.db.port", values.port)
    backend = props.typed("omero.mail.directory.backend", values.one_of, DIRECTORY_BACKENDS)
    file = props["omero.mail.directory.file"].strip() or None
    own_dsn = "omero.mail.directory.dsn" if props["omero.mail.directory.dsn"].strip() else "omero.mail.bridge.dsn"
    # Not chosen, the directory is OMERO's own whenever omero-mail is told where OMERO's database is.
    near_omero = props[own_dsn].strip() or any(props.origin(k) not in ("default", "") for k in OMERO_DB_KEYS)
    if props.origin("omero.mail.directory.backend") == "default" and file is None and near_omero:
        backend = "postgres"
    refresh = props.typed("omero.mail.directory.refresh", values.number)
    if backend == "json":
        return DirectorySettings(backend=backend, file=file, refresh=refresh)
    from .omerodb import dsn_from_properties  # psycopg, only for a directory that needs it

    return DirectorySettings(backend=backend, file=file, refresh=refresh, dsn=dsn_from_properties(props, own_dsn))


def monitoring_settings(props: Properties) -> MonitoringSettings:
    return MonitoringSettings(
        host=props["omero.mail.metrics.host"].strip(),
        port=props.typed("omero.mail.metrics.port", values.optional_port),
        stuck_after=props.typed("omero.mail.health.stuck-after", values.seconds),
        activity_interval=props.typed("omero.mail.activity.interval", values.seconds),
    )


def _actions(text: str) -> frozenset[str]:
    actions = frozenset(name.upper() for name in values.names(text))
    if actions - set(BRIDGE_ACTIONS):
        raise ValueError(f"a comma-separated list of {', '.join(BRIDGE_ACTIONS)}")
    return actions


def _positive_seconds(text: str) -> float:
    if values.seconds(text) <= 0:
        raise ValueError("a duration longer than 0, such as 1s or 500ms")
    return values.seconds(text)


def bridge_options(props: Properties) -> BridgeOptions:
    return BridgeOptions(
        poll=props.typed("omero.mail.bridge.poll", _positive_seconds),
        batch=props.typed("omero.mail.bridge.batch", values.whole, 1),
        actions=props.typed("omero.mail.bridge.actions", _actions),
        classes=frozenset(values.names(props["omero.mail.bridge.classes"])),
        metrics_port=props.typed("omero.mail.bridge.metrics.port", values.optional_port),
    )


def web_settings(props: Properties) -> WebSettings:
    return WebSettings(host=props["omero.mail.web.host"].strip(), port=props.typed("omero.mail.web.port", values.port),
                       broker_url=props["omero.mail.web.broker.url"].strip(),
                       secure_cookies=props.typed("omero.mail.web.secure-cookies", values.boolean),
                       trusted_proxy=props.typed("omero.mail.web.trusted-proxy", values.ip_address),
                       allowed_hosts=props.typed("omero.mail.web.allowed-hosts", values.host_names))


def read_settings(props: Properties) -> Settings:
    """Every typed property, checked; the first bad one is a ConfigError."""
    # Who may publish what: consumer/access/trust.py reads these two from the bag, with the same parsers.
    props.typed("omero.mail.broker.check-publishers", values.boolean)
    props.typed("omero.mail.broadcast.users", values.name_pairs)
    # senders/broadcast.py reads this one from the bag, with the same parser.
    props.typed("omero.mail.broadcast.max-bytes", values.whole)
    return Settings(
        broker_url=props["omero.mail.broker.url"].strip(),
        heartbeat=props.typed("omero.mail.broker.heartbeat", values.whole),
        prefetch=props.typed("omero.mail.consumer.prefetch", values.whole),
        delivery_connections=props.typed("omero.mail.delivery.connections", values.whole, 1),
        senders_enabled=props.typed("omero.mail.config", values.boolean),
        senders_dir=props["omero.mail.senders.dir"],
        mail_from=props["omero.mail.from"],
        source=props["omero.mail.source"],
        bean=props["omero.mail.bean"].strip(),
        log_addresses=props.typed("omero.mail.log.addresses", values.boolean),
        broadcast_results_expires_ms=props.typed("omero.mail.broadcast.results.expires", values.parse_duration_ms),
        broadcast_timeout=props.typed("omero.mail.broadcast.timeout", _positive_seconds),
        smtp=smtp_settings(props),
        queues=queue_settings(props),
        flood=flood_settings(props),
        dedupe=dedupe_settings(props),
        directory=directory_settings(props),
        monitoring=monitoring_settings(props),
        bridge=bridge_options(props),
        web=web_settings(props),
        props=props,
    )


def unread(props: Properties, environ: Mapping[str, str]) -> list[str]:
    """One line for each key under ``omero.mail.`` that omero-mail does not read, from any source,
    with the nearest key it does read. OMERO's own ``omero.mail.*`` keys are all read."""
    lines = []
    for key in props:
        if key.startswith("omero.mail.") and not is_known(key):
            where = "the environment" if props.origin(key) == "environment" else props.origin(key)
            nearest = nearest_known(key)
            lines.append(_ignored(key, where, nearest))
    for name in unread_environment(environ, props):
        nearest = nearest_known(name.lower().replace("_", "."))
        lines.append(_ignored(name, "the environment", nearest and f"{env_name(nearest)} ({nearest})"))
    return lines


def _ignored(name: str, where: str, nearest: str | None) -> str:
    hint = f"did you mean {nearest}?" if nearest else "no property omero-mail reads is near it"
    return f"{name} (set in {where}) is not a property omero-mail reads, so it is ignored; {hint}"


def checked_at_start(props: Properties, environ: Mapping[str, str]) -> Settings:
    """What every command starts with: a WARNING for each key not read, then every typed value checked."""
    for line in unread(props, environ):
        log.warning("%s", line)
    return read_settings(props)
