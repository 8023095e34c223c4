"""The systemd units in deploy/systemd pass ``systemd-analyze verify``, and their
environment file sets only properties omero-mail knows."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from events.config import DEFAULTS, environment_values, env_name

from .conftest import ROOT
from .services import unavailable

SYSTEMD = ROOT / "deploy" / "systemd"
INSTALLED_BINARY = "/opt/omero-mail/bin/omero-mail"
INSTALLED_ENV = "/etc/omero-mail/omero-mail.env"


@pytest.fixture
def units(tmp_path) -> Path:
    """The units as installed, with the install paths pointing at this checkout."""
    if not shutil.which("systemd-analyze"):
        unavailable("systemd-analyze")
    binary = Path(sys.executable).with_name("omero-mail")
    for unit in (path for path in SYSTEMD.iterdir() if path.is_file()):
        text = unit.read_text().replace(INSTALLED_BINARY, str(binary)).replace(INSTALLED_ENV, str(tmp_path / unit.name))
        (tmp_path / unit.name).write_text(text)
    (tmp_path / "omero-mail.env").write_text((SYSTEMD / "omero-mail.env").read_text())
    return tmp_path


def verify(folder: Path, *names: str) -> str:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=folder,
                            capture_output=True, text=True, timeout=60)
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else f" (exit {result.returncode})")


def test_the_delivery_template_unit_verifies_for_an_instance(units):
    assert verify(units, "./omero-mail-delivery@.service", "./omero-mail-delivery@3.service") == ""


def test_the_rules_unit_verifies(units):
    assert verify(units, "./omero-mail-rules.service") == ""


def test_the_target_verifies(units):
    assert verify(units, "./omero-mail.target", "./omero-mail-rules.service", "./omero-mail-delivery@.service") == ""


def test_the_bridge_unit_verifies(units):
    assert verify(units, "./omero-mail-bridge.service") == ""


def test_the_drop_in_for_omeros_own_unit_verifies_beside_the_unit_omeros_docs_give(units):
    # OMERO's documented omero-server.service (omero-documentation, sysadmins/unix/walkthrough).
    (units / "omero-server.service").write_text(
        "[Unit]\nDescription=OMERO.server\n[Service]\nType=forking\nTimeoutSec=300\n"
        f"ExecStart={sys.executable} -c pass\nExecStop={sys.executable} -c pass\n"
        "[Install]\nWantedBy=multi-user.target\n")
    drop_in = units / "omero-server.service.d"
    drop_in.mkdir()
    text = (SYSTEMD / "omero-server.service.d" / "omero-mail.conf").read_text()
    binary = Path(sys.executable).with_name("omero-mail")
    (drop_in / "omero-mail.conf").write_text(text.replace(INSTALLED_BINARY, str(binary))
                                             .replace(INSTALLED_ENV, str(units / "omero-mail.env")))
    assert verify(units, "./omero-server.service") == ""


def test_the_drop_in_publishes_startup_after_start_and_shutdown_after_stop():
    text = (SYSTEMD / "omero-server.service.d" / "omero-mail.conf").read_text()
    assert f"ExecStartPost=-{INSTALLED_BINARY} publish server.startup" in text
    assert f"ExecStopPost=-{INSTALLED_BINARY} publish server.shutdown" in text


def test_the_units_restart_and_read_the_environment_file():
    for name in ("omero-mail-rules.service", "omero-mail-delivery@.service", "omero-mail-bridge.service"):
        text = (SYSTEMD / name).read_text()
        assert "Restart=always" in text and f"EnvironmentFile={INSTALLED_ENV}" in text
        assert f"ExecStart={INSTALLED_BINARY} " in text


def test_each_delivery_instance_gets_its_own_metrics_port():
    assert "--metrics-port 910%i" in (SYSTEMD / "omero-mail-delivery@.service").read_text()


def test_the_environment_file_sets_only_known_properties():
    names = [line.split("=", 1)[0] for line in (SYSTEMD / "omero-mail.env").read_text().splitlines()
             if line and not line.startswith("#")]
    known = environment_values({name: "" for name in names}, list(DEFAULTS))
    assert sorted(env_name(key) for key in known) == sorted(names)
