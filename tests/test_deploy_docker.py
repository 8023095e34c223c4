"""The Dockerfile passes hadolint and its build stage has every file the package build needs,
and the compose file is a consistent development setup. Docker runs on these machines only as
a client, so both are checked without a daemon: the build stage's COPY lines are read and
replayed into a directory, where setuptools builds the package as ``pip install .`` would."""

from __future__ import annotations

import configparser
import glob
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

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


def instructions() -> list[tuple[str, list[str]]]:
    """The Dockerfile's instructions, continuation lines joined: (keyword, arguments)."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, *arguments = line.split()
            found.append((keyword.upper(), arguments))
    return found


def build_stage_copies() -> list[tuple[str, str]]:
    """(source in the build context, destination in the image) for each COPY of the stage that runs
    ``pip install .``, destinations made absolute with its WORKDIR."""
    stages: list[list[tuple[str, list[str]]]] = []
    for keyword, arguments in instructions():
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, arguments))
    [stage] = [s for s in stages if any(k == "RUN" and "install" in a and "." in a for k, a in s)]
    workdir, copies = PurePosixPath("/"), []
    for keyword, arguments in stage:
        if keyword == "WORKDIR":
            workdir = workdir / arguments[0]
        elif keyword == "COPY":
            assert not arguments[0].startswith("["), "COPY in JSON form: read it here too"
            *patterns, destination = [a for a in arguments if not a.startswith("--")]
            sources = [str(Path(match).relative_to(ROOT)) for pattern in patterns
                       for match in sorted(glob.glob(str(ROOT / pattern)))]
            into = workdir / destination
            for source in sources:
                target = into / Path(source).name if destination.endswith("/") or len(sources) > 1 else into
                copies.append((source, str(target)))
    return copies


def where_copied(path: str, workdir: str = "/src") -> Path | None:
    """The file of the build context that the build stage has at ``workdir/path``, or None."""
    wanted = PurePosixPath(workdir) / path
    for source, destination in build_stage_copies():
        if wanted == PurePosixPath(destination):
            return ROOT / source
        if PurePosixPath(destination) in wanted.parents:
            return ROOT / source / wanted.relative_to(destination)
    return None


def package_build_inputs() -> list[str]:
    """What setup.cfg makes ``pip install .`` read, relative to the project: its metadata files,
    each data_files entry and each package data file."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    inputs = ["setup.cfg", "pyproject.toml", config["metadata"]["long_description"].removeprefix("file:").strip()]
    for files in config["options.data_files"].values():
        inputs += [line.strip() for line in files.splitlines() if line.strip()]
    for package, patterns in config["options.package_data"].items():
        for pattern in (p.strip() for p in patterns.split(",")):
            matches = glob.glob(str(ROOT / package.replace(".", "/") / pattern))
            assert matches, f"package data {package}: {pattern} matches nothing"
            inputs += [str(Path(match).relative_to(ROOT)) for match in matches]
    return inputs


def test_everything_the_dockerfile_copies_exists_in_the_repository():
    for keyword, arguments in instructions():
        if keyword == "COPY" and not any(a.startswith("--from=") for a in arguments):
            for source in [a for a in arguments if not a.startswith("--")][:-1]:
                assert glob.glob(str(ROOT / source)), source


def test_the_build_stage_copies_every_file_the_package_build_reads():
    def copied(path: str) -> bool:
        source = where_copied(path)
        return source is not None and source.is_file()

    assert [path for path in package_build_inputs() if not copied(path)] == []


def test_the_build_stage_builds_the_package_with_its_data_files_from_what_it_copies(tmp_path):
    """The build stage's COPY lines replayed into a directory, then setuptools' build and
    install_data there: what ``pip install .`` in the image runs, without Docker."""
    context = tmp_path / "src"
    for source, destination in build_stage_copies():
        target = context / PurePosixPath(destination).relative_to("/src")
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, target)
    result = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build", "--build-base",
         str(tmp_path / "build"), "install_data", "--install-dir", str(tmp_path / "data")],
        cwd=context, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert {path.name for path in (tmp_path / "data" / "share" / "omero-mail").iterdir()} >= {
        "README.rst", "mail-senders.example", "omero-mail-senders.example", "omero-mail.env"}


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


def networks(service: dict) -> set[str]:
    joined = service.get("networks", ["default"])
    return set(joined if isinstance(joined, list) else joined.keys())


def mounts(service: dict) -> dict[str, str]:
    """Where each volume or path is mounted in the service's container: {target: source}."""
    return {mount.split(":")[1]: mount.split(":")[0] for mount in service.get("volumes", [])}


def dsn(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


def test_the_bridge_reaches_the_database_it_names_on_a_network_both_join_in_its_profile(compose):
    services = compose["services"]
    bridge = services["bridge"]
    database = dsn(bridge["environment"]["OMERO_MAIL_BRIDGE_DSN"])
    assert database["host"] in services, f"no service {database['host']!r} in the compose file"
    postgres = services[database["host"]]
    assert networks(bridge) & networks(postgres)
    assert set(bridge["profiles"]) <= set(postgres.get("profiles", bridge["profiles"]))
    assert (database["dbname"], database["user"]) == (postgres["environment"]["POSTGRES_DB"],
                                                      postgres["environment"]["POSTGRES_USER"])


def test_the_database_of_the_bridge_is_omeros_own(compose):
    services = compose["services"]
    host = dsn(services["bridge"]["environment"]["OMERO_MAIL_BRIDGE_DSN"])["host"]
    omero = [s for s in services.values() if s.get("environment", {}).get("CONFIG_omero_db_host") == host]
    assert len(omero) == 1 and set(omero[0]["profiles"]) == set(services["bridge"]["profiles"])


def test_the_bridge_reads_the_log_omero_writes_through_a_volume_they_share(compose):
    services = compose["services"]
    bridge = services["bridge"]
    log = PurePosixPath(bridge["environment"]["OMERO_MAIL_BRIDGE_LOG"])
    [(target, volume)] = [(t, v) for t, v in mounts(bridge).items() if PurePosixPath(t) in log.parents]
    assert volume in compose["volumes"], "a named volume, not a path of the host the bridge's user may not read"
    assert bridge["volumes"][[m.split(":")[1] for m in bridge["volumes"]].index(target)].endswith(":ro")
    [omero] = [s for s in services.values() if "CONFIG_omero_db_host" in s.get("environment", {})]
    omero_var = PurePosixPath("/opt/omero/server/OMERO.server/var")
    assert mounts(omero).get(str(omero_var)) == volume
    assert log.relative_to(target) == PurePosixPath("log/Blitz-0.log")


def test_every_named_volume_a_service_mounts_is_declared(compose):
    for name, service in compose["services"].items():
        for source in mounts(service).values():
            if not source.startswith((".", "/", "$")):
                assert source in compose["volumes"], (name, source)


def test_every_service_a_service_waits_for_is_in_the_compose_file_and_in_its_profiles(compose):
    services = compose["services"]
    for name, service in services.items():
        for other in service.get("depends_on", {}):
            assert other in services, (name, other)
            if "profiles" in services[other]:
                assert set(service.get("profiles", [])) & set(services[other]["profiles"]), (name, other)


def test_each_service_of_the_image_serves_its_health_where_the_images_healthcheck_asks(compose):
    [check] = [arguments for keyword, arguments in instructions() if keyword == "HEALTHCHECK"]
    [port] = re.findall(r"127\.0\.0\.1:(\d+)/healthz", " ".join(check))
    for name, service in compose["services"].items():
        if service.get("image") == "omero-mail:dev":
            command = service["command"]
            served = command[command.index("--metrics-port") + 1] if "--metrics-port" in command else None
            assert served in (None, port), name
            if command[0] == "bridge":
                # The bridge's metrics are off unless asked for (omero.mail.bridge.metrics.port).
                assert served == port, name
