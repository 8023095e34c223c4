"""The systemd units in deploy/systemd: they pass ``systemd-analyze verify``, are hardened as a
distribution would ship them (``systemd-analyze security``), make their own state directory,
hide no failure, and their environment files set only properties omero-mail knows. OMERO's
start and stop are published by a unit of their own, as a broker user that may publish
nothing else, against a real RabbitMQ node."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from events import topology as topo
from events.broker import declare_topology
from events.config import DEFAULTS, environment_values, env_name

from .conftest import ROOT
from .services import unavailable

SYSTEMD = ROOT / "deploy" / "systemd"
INSTALLED_BINARY = "/opt/omero-mail/bin/omero-mail"
INSTALLED_CONFIG = "/etc/omero-mail/"
SERVICES = ("omero-mail-rules.service", "omero-mail-delivery@.service", "omero-mail-bridge.service",
            "omero-mail-server-events.service", "omero-mail-webapp.service")
STAGES = SERVICES[:3]
SERVER_EVENTS = "omero-mail-server-events.service"
WEBAPP = "omero-mail-webapp.service"
#: OMERO's own unit as OMERO's documentation gives it (omero-documentation, sysadmins/unix/walkthrough).
OMERO_START_TIMEOUT = 300
#: What ``systemd-analyze security`` may say of a unit at most (0 safe, 10 exposed; 8.5 before hardening).
EXPOSURE = 2.5
#: Each line, a hardening a distribution ships (systemd.exec(5)), with the value it must have.
HARDENING = {
    "UMask": "0077", "CapabilityBoundingSet": "", "AmbientCapabilities": "", "NoNewPrivileges": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
    "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
    "RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
}


def settings(name: str) -> dict[str, list[str]]:
    """The unit's settings: every value of each key, in order."""
    found: dict[str, list[str]] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def unit_files() -> list[Path]:
    return sorted(path for path in SYSTEMD.rglob("*") if path.is_file() and path.suffix in (".service", ".conf"))


def installed(text: str, folder: Path) -> str:
    """A unit's text with the install paths pointing at this checkout and ``folder``."""
    return (text.replace(INSTALLED_BINARY, str(Path(sys.executable).with_name("omero-mail")))
            .replace(INSTALLED_CONFIG, f"{folder}/"))


@pytest.fixture
def units(tmp_path) -> Path:
    """The units as installed, beside OMERO's own omero-server.service."""
    if not shutil.which("systemd-analyze"):
        unavailable("systemd-analyze")
    for unit in (path for path in SYSTEMD.iterdir() if path.is_file()):
        (tmp_path / unit.name).write_text(installed(unit.read_text(), tmp_path))
    (tmp_path / "omero-server.service").write_text(
        f"[Unit]\nDescription=OMERO.server\n[Service]\nType=forking\nTimeoutSec={OMERO_START_TIMEOUT}\n"
        f"ExecStart={sys.executable} -c pass\nExecStop={sys.executable} -c pass\n"
        "[Install]\nWantedBy=multi-user.target\n")
    return tmp_path


def verify(folder: Path, *names: str) -> str:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=folder,
                            capture_output=True, text=True, timeout=60)
    return (result.stdout + result.stderr).strip() + ("" if result.returncode == 0 else f" (exit {result.returncode})")


def exposure(folder: Path, name: str) -> float:
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", f"./{name}"], cwd=folder,
                            capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    return float(match.group(1))


def test_the_delivery_template_unit_verifies_for_an_instance(units):
    assert verify(units, "./omero-mail-delivery@.service", "./omero-mail-delivery@3.service") == ""


def test_the_rules_unit_verifies(units):
    assert verify(units, "./omero-mail-rules.service") == ""


def test_the_target_verifies(units):
    assert verify(units, "./omero-mail.target", "./omero-mail-rules.service", "./omero-mail-delivery@.service") == ""


def test_the_bridge_unit_verifies(units):
    assert verify(units, "./omero-mail-bridge.service") == ""


def test_the_server_events_unit_verifies_beside_the_unit_omeros_docs_give(units):
    assert verify(units, f"./{SERVER_EVENTS}", "./omero-server.service") == ""


def test_the_web_app_unit_verifies(units):
    assert verify(units, f"./{WEBAPP}") == ""


def test_the_web_app_unit_runs_the_standalone_app_and_stops_it_as_ctrl_c_does():
    unit = settings(WEBAPP)
    assert unit["ExecStart"] == [f"{INSTALLED_BINARY} --log-format json web"]
    assert unit["EnvironmentFile"] == [f"{INSTALLED_CONFIG}omero-mail.env"] and unit["Restart"] == ["always"]
    assert unit["KillSignal"] == ["SIGINT"] and unit["SuccessExitStatus"] == ["130"]
    assert "StateDirectory" not in unit and "ReadWritePaths" not in unit


def test_the_standalone_app_stops_cleanly_on_the_signal_its_unit_sends(web_app):
    app = web_app()
    app.process.send_signal(signal.SIGINT)
    assert app.process.wait(15) == 0


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_hardened_as_a_distribution_would_ship_it(name):
    unit = settings(name)
    assert {key: value for key, value in HARDENING.items() if value not in unit.get(key, [])} == {}


@pytest.mark.parametrize("name", SERVICES)
def test_systemd_analyze_security_finds_each_service_little_exposed(units, name):
    assert exposure(units, name.replace("@.", "@1.")) <= EXPOSURE


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_has_systemd_make_its_state_directory_and_works_in_it(name):
    unit = settings(name)
    assert unit["StateDirectory"] == ["omero-mail"] and unit["WorkingDirectory"] == ["/var/lib/omero-mail"]
    assert "ReadWritePaths" not in unit


def test_the_stages_share_their_state_directory_with_one_owner():
    # systemd gives a StateDirectory= the User= and Group= of the unit that starts: they must agree.
    assert {(settings(n)["User"][-1], settings(n)["Group"][-1]) for n in STAGES} == {("omero-mail", "omero-mail")}


def test_the_bridge_reads_omeros_log_through_a_supplementary_group():
    assert settings("omero-mail-bridge.service")["SupplementaryGroups"] == ["omero-server"]


@pytest.mark.parametrize("path", unit_files(), ids=lambda path: path.name)
def test_no_command_hides_its_failure_behind_a_leading_dash(path):
    commands = [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith("Exec")]
    assert [command for command in commands if command.lstrip("@+!:").startswith("-")] == []


def test_nothing_of_omero_mail_runs_in_omeros_own_unit():
    # No drop-in: OMERO's environment holds no broker password and its start waits for no publish.
    assert not [path for path in SYSTEMD.rglob("*") if path.parent.name == "omero-server.service.d"]


def test_omeros_start_and_stop_are_published_by_a_unit_bound_to_omeros():
    unit = settings(SERVER_EVENTS)
    assert unit["BindsTo"] == ["omero-server.service"] and "omero-server.service" in unit["After"][0].split()
    assert unit["WantedBy"] == ["omero-server.service"]
    assert (unit["Type"], unit["RemainAfterExit"]) == (["oneshot"], ["yes"])
    assert unit["ExecStart"][0].startswith(f"{INSTALLED_BINARY} publish server.startup ")
    assert unit["ExecStop"][0].startswith(f"{INSTALLED_BINARY} publish server.shutdown ")


def test_the_server_events_are_bounded_well_inside_omeros_start_timeout():
    unit = settings(SERVER_EVENTS)
    for key in ("TimeoutStartSec", "TimeoutStopSec"):
        [value] = unit[key]
        assert value.endswith("s") and int(value[:-1]) <= OMERO_START_TIMEOUT / 10, key


def test_the_server_events_unit_reads_the_server_publishers_environment_file_alone():
    assert settings(SERVER_EVENTS)["EnvironmentFile"] == [f"{INSTALLED_CONFIG}omero-server.env"]
    assert environment(SYSTEMD / "omero-server.env") == {
        "OMERO_MAIL_BROKER_URL": "amqp://omero-mail-server:CHANGE-ME@rabbitmq.example.org:5672/%2F"}


def test_the_units_restart_and_read_the_environment_file():
    for name in STAGES:
        text = (SYSTEMD / name).read_text()
        assert "Restart=always" in text and f"EnvironmentFile={INSTALLED_CONFIG}omero-mail.env" in text
        assert f"ExecStart={INSTALLED_BINARY} " in text


def test_each_delivery_instance_gets_its_own_metrics_port():
    assert "--metrics-port 910%i" in (SYSTEMD / "omero-mail-delivery@.service").read_text()


def environment(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("name", ["omero-mail.env", "omero-server.env"])
def test_the_environment_files_set_only_known_properties(name):
    names = list(environment(SYSTEMD / name))
    known = environment_values({name: "" for name in names}, list(DEFAULTS))
    assert sorted(env_name(key) for key in known) == sorted(names)


# -- the server publisher's broker user, on a private RabbitMQ node ----------------------------

def readme_grants(user: str) -> list[list[str]]:
    """README's ``rabbitmqctl set_permissions`` and ``set_topic_permissions`` lines for ``user``."""
    lines = (ROOT / "README.rst").read_text().splitlines()
    return [shlex.split(line)[1:] for line in lines
            if line.strip().startswith("rabbitmqctl set_") and f" {user} " in line]


@pytest.fixture
def server_user(private_rabbitmq, amqp_url):
    """README's omero-mail-server user, made on the private node for the test's vhost."""
    vhost = unquote(amqp_url.rsplit("/", 1)[1])
    user, password = f"omero-mail-server-{uuid.uuid4().hex[:6]}", "s3cret-for-tests"
    private_rabbitmq.ctl("add_user", user, password)
    grants = readme_grants("omero-mail-server")
    assert [grant[0] for grant in grants] == ["set_permissions", "set_topic_permissions"]
    for grant in grants:
        private_rabbitmq.ctl(*[vhost if word == "/" else user if word == "omero-mail-server" else word
                               for word in grant])
    declare_topology(amqp_url, topo.build())
    yield amqp_url.replace("guest:guest@", f"{quote(user)}:{password}@"), user
    private_rabbitmq.ctl("delete_user", user, check=False)


def run_unit_command(key: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The unit's ``key`` command, as systemd runs it: %H expanded, the environment file's variables set."""
    [command] = settings(SERVER_EVENTS)[key]
    argv = [word.replace("%H", "omero.example.org") for word in shlex.split(installed(command, tmp_path))]
    return subprocess.run(argv, env={"PATH": "/usr/bin:/bin", "OMERO_MAIL_BROKER_URL": url}, capture_output=True,
                          text=True, timeout=120)


def take_one(url: str, queue: str) -> tuple[str | None, bytes]:
    """The next message of ``queue``: the broker user who published it, and its body."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        method, properties, body = connection.channel().basic_get(queue, auto_ack=True)
        assert method is not None, f"{queue} is empty"
        return properties.user_id, body
    finally:
        connection.close()


@pytest.mark.private_broker
def test_the_server_events_unit_publishes_omeros_start_and_stop_as_the_server_publisher(server_user, amqp_url,
                                                                                          tmp_path):
    url, user = server_user
    for key, kind in (("ExecStart", b"server.startup"), ("ExecStop", b"server.shutdown")):
        result = run_unit_command(key, url, tmp_path)
        assert result.returncode == 0, result.stderr
        published_by, body = take_one(amqp_url, topo.EVENTS_QUEUE)
        assert published_by == user and b'"type":"' + kind + b'"' in body and b"omero.example.org" in body


@pytest.mark.private_broker
def test_the_server_publisher_may_publish_nothing_but_server_events_and_a_refusal_fails_the_unit(
        server_user, tmp_path):
    url, _user = server_user
    started = time.monotonic()
    result = subprocess.run([str(Path(sys.executable).with_name("omero-mail")), "publish", "login.failed",
                             "--data", '{"user": "root"}'], env={"PATH": "/usr/bin:/bin", "OMERO_MAIL_BROKER_URL": url},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "ACCESS_REFUSED" in result.stderr.strip().splitlines()[-1]
    assert time.monotonic() - started < int(settings(SERVER_EVENTS)["TimeoutStartSec"][0][:-1])
