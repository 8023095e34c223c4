"""The bridge's settings: omero-mail's typed settings, and what only the bridge resolves.

Every typed property is read and checked once, at start, by ``events/settings.py`` (so a
bad value is one ``ConfigError`` naming the key before anything connects); this adds the
bridge's own: the database is OMERO's (``omero.db.*``) unless ``omero.mail.bridge.dsn``
names another, and the state file and the log default to their places under
``OMERODIR``, as OMERO's own files do.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, Properties
from ..omerodb import dsn_from_properties
from ..settings import read_settings
from .mapping import RowFilter

UNSET_OMERODIR = "${OMERODIR}"


@dataclass(frozen=True)
class BridgeSettings:
    #: Secrets in both: left out of the printed form, as ``Settings.broker_url`` is.
    dsn: str = field(repr=False)
    broker_url: str = field(repr=False)
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


def bridge_settings(props: Properties) -> BridgeSettings:
    settings = read_settings(props)
    options = settings.bridge
    return BridgeSettings(
        dsn=dsn_from_properties(props, "omero.mail.bridge.dsn"),
        broker_url=settings.broker_url,
        state_path=_path(props, "omero.mail.bridge.state", required=True) or Path(),
        log_path=_path(props, "omero.mail.bridge.log", required=False),
        poll_seconds=options.poll,
        batch=options.batch,
        rows=RowFilter(actions=options.actions, classes=options.classes),
        source=f"omero-bridge@{socket.gethostname()}",
        stuck_after=settings.monitoring.stuck_after,
        metrics_host=settings.monitoring.host,
        metrics_port=options.metrics_port,
    )
