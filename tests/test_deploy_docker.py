"""The Dockerfile passes hadolint and the compose file is a consistent development setup
(Docker itself does not run here, so both are checked without building)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from events.config import DEFAULTS, environment_values

from .conftest import ROOT
from .services import unavailable

DEPLOY = ROOT / "deploy"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        unavailable("hadolint")
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_the_dockerfile_passes_hadolint():
    result = subprocess.run([hadolint(), "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_everything_the_dockerfile_copies_exists_in_the_repository():
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_image_runs_the_console_script():
    assert 'ENTRYPOINT ["omero-mail"' in (DEPLOY / "Dockerfile").read_text()


def test_compose_runs_rabbitmq_a_mail_catcher_and_both_stages(compose):
    assert {"rabbitmq", "definitions", "mailpit", "rules", "delivery"} <= set(compose["services"])
    assert compose["services"]["rules"]["command"] == ["consume", "--stage", "rules"]
    assert compose["services"]["delivery"]["command"] == ["consume", "--stage", "delivery"]


def test_compose_builds_the_image_from_the_dockerfile(compose):
    build = compose["services"]["delivery"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()


def test_compose_loads_the_checked_in_definitions_and_the_consumer_expects_their_policies(compose):
    mounts = compose["services"]["definitions"]["volumes"]
    assert any(m.startswith("./rabbitmq/definitions.json:") for m in mounts)
    assert compose["services"]["delivery"]["environment"]["OMERO_MAIL_QUEUE_POLICIES"] == "true"


def test_the_consumer_talks_to_the_compose_broker_and_mail_catcher(compose):
    environment = compose["services"]["rules"]["environment"]
    assert re.match(r"amqp://[^@]+@rabbitmq:5672/", environment["OMERO_MAIL_BROKER_URL"])
    assert environment["OMERO_MAIL_HOST"] == "mailpit"


def test_compose_sets_only_known_properties(compose):
    environment = compose["services"]["delivery"]["environment"]
    assert len(environment_values(environment, list(DEFAULTS))) == len(environment)


def test_every_file_compose_mounts_exists(compose):
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source


def test_compose_runs_the_bridge_beside_omero_only_when_asked(compose):
    bridge = compose["services"]["bridge"]
    assert bridge["profiles"] == ["omero"] and bridge["command"][0] == "bridge"
    assert len(environment_values(bridge["environment"], list(DEFAULTS))) == len(bridge["environment"])
    assert any(mount.endswith("/var/log:/omero/var/log:ro") for mount in bridge["volumes"])
