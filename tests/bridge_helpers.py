"""What the bridge's tests share: its properties, running it, and reading what it published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.access.definitions import topology_for
from events.bridge.service import Bridge
from events.bridge.settings import bridge_settings
from events.broker import declare_topology
from events.config import Properties
from events import topology as topo

from .conftest import take_all

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bridge_props(omero_db, amqp_url, tmp_path) -> Properties:
    props = Properties({
        "omero.mail.broker.url": amqp_url,
        "omero.mail.bridge.dsn": omero_db.bridge_dsn,
        "omero.mail.bridge.state": str(tmp_path / "bridge-state.json"),
        "omero.mail.bridge.log": str(tmp_path / "Blitz-0.log"),
        "omero.mail.bridge.poll": "100ms",
    })
    declare_topology(amqp_url, topology_for(props))
    return props


def run_once(props: Properties, from_id: int | None = None) -> Bridge:
    """One bridge cycle in this process: what was there is published and recorded."""
    bridge = Bridge(bridge_settings(props), from_id=from_id)
    bridge.run(once=True)
    return bridge


def published(props: Properties) -> list[dict]:
    """Take every event off omero.mail.events (the rules stage's queue), as JSON."""
    return [json.loads(body) for _headers, body in take_all(props["omero.mail.broker.url"], topo.EVENTS_QUEUE)]


def write_properties(props: Properties, path: Path) -> Path:
    path.write_text("".join(f"{key}={props._raw[key]}\n" for key in props._raw if props.origin(key) != "default"))
    return path


def start_bridge(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    """``omero-mail bridge`` as a process of its own, as systemd runs it."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge", *args],
                            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
