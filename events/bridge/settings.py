"""The bridge's settings, read and checked once at start from omero-mail's properties.

Every ``omero.mail.bridge.*`` value is turned into a typed field here, so a bad value is
one ``ConfigError`` naming the key before anything connects. The database is OMERO's own
(``omero.db.*``) unless ``omero.mail.bridge.dsn`` names another; the state file and the
log default to their places under ``OMERODIR``, as OMERO's own files do.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, Properties
from ..omerodb import dsn_from_properties
from .mapping import ACTION_TYPES, RowFilter

UNSET_OMERODIR = "${OMERODIR}"


@dataclass(frozen=True)
class BridgeSettings:
    dsn: str
    broker_url: str
    state_path: Path
    #: None: the log is not followed (no ``OMERODIR`` and no ``omero.mail.bridge.log``).
    log_path: Path | None
    poll_seconds: float
    batch: int
    rows: RowFilter
    source: str
    stuck_after: float
    metrics_host: str
    metrics_port: int | None


def _path(props: Properties, key: str, required: bool) -> Path | None:
    value = props[key].strip()
    if UNSET_OMERODIR in value or not value:
        if required:
            raise ConfigError(f"{key} is not set: set OMERODIR (OMERO's directory) or {key}")
        return None
    return Path(value)


def _names(props: Properties, key: str) -> frozenset[str]:
    return frozenset(part.strip() for part in props[key].split(",") if part.strip())


def bridge_settings(props: Properties) -> BridgeSettings:
    actions = frozenset(a.upper() for a in _names(props, "omero.mail.bridge.actions"))
    unknown = sorted(actions - set(ACTION_TYPES))
    if unknown:
        raise ConfigError(f"omero.mail.bridge.actions: unknown action {unknown[0]!r} "
                          f"(expected a comma-separated list of {', '.join(ACTION_TYPES)})")
    batch = props.int("omero.mail.bridge.batch")
    if batch < 1:
        raise ConfigError(f"omero.mail.bridge.batch must be at least 1, not {batch}")
    poll = props.duration("omero.mail.bridge.poll")
    if poll <= 0:
        raise ConfigError("omero.mail.bridge.poll must be longer than 0 (e.g. 1s or 500ms)")
    port = props["omero.mail.bridge.metrics.port"].strip()
    return BridgeSettings(
        dsn=dsn_from_properties(props, "omero.mail.bridge.dsn"),
        broker_url=props["omero.mail.broker.url"],
        state_path=_path(props, "omero.mail.bridge.state", required=True) or Path(),
        log_path=_path(props, "omero.mail.bridge.log", required=False),
        poll_seconds=poll,
        batch=batch,
        rows=RowFilter(actions=actions, classes=_names(props, "omero.mail.bridge.classes")),
        source=f"omero-bridge@{socket.gethostname()}",
        stuck_after=props.duration("omero.mail.health.stuck-after"),
        metrics_host=props["omero.mail.metrics.host"],
        metrics_port=props.int("omero.mail.bridge.metrics.port") if port and port != "0" else None,
    )
