"""What surprised a new user, each ending in its one line and the right exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from events import topology as topo
from events.config import DEFAULTS
from events.broker import declare_topology

from .services import free_port

ROOT = Path(__file__).resolve().parent.parent


def omero_mail(*args, env=None, stdout=subprocess.PIPE, timeout=60):
    environ = {"PATH": os.environ.get("PATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env=environ, timeout=timeout, cwd=ROOT, stdin=subprocess.DEVNULL)


def into_a_closed_pipe(*args, env=None):
    """Run with standard output a pipe nobody reads any more, as ``| head`` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return omero_mail(*args, env=env, stdout=write_end)
    finally:
        os.close(write_end)


def one_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_config_list_with_a_bad_value_is_one_line_and_exit_1():
    result = omero_mail("config", "list", env={"OMERO_MAIL_RETRY_DELAYS": "30sec"})
    assert result.returncode == 1
    assert one_line(result) == ("omero-mail: error: omero.mail.retry.delays='30sec' (from the environment): "
                                "expected comma-separated durations such as 30s,5m,30m")


def test_config_get_with_a_bad_value_is_one_line_and_exit_1():
    result = omero_mail("config", "get", "omero.mail.host", env={"OMERO_MAIL_HEALTH_STUCK_AFTER": "5 minutes"})
    assert result.returncode == 1
    assert "omero.mail.health.stuck-after='5 minutes'" in one_line(result)


def test_consume_with_a_bad_value_stops_before_connecting():
    unreachable = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"
    result = omero_mail("consume", env={"OMERO_MAIL_BROKER_URL": unreachable,
                                        "OMERO_MAIL_SMTP_TIMEOUT": "60s"}, timeout=30)
    assert result.returncode == 1
    assert one_line(result) == ("omero-mail: error: omero.mail.smtp.timeout='60s' (from the environment): "
                                "expected a whole number of at least 1")


def test_bridge_with_a_bad_value_stops_before_connecting(tmp_path):
    result = omero_mail("bridge", env={"OMERO_MAIL_BRIDGE_STATE": str(tmp_path / "state.json"),
                                       "OMERO_MAIL_BRIDGE_POLL": "often"}, timeout=30)
    assert result.returncode == 1
    assert "omero.mail.bridge.poll='often'" in one_line(result)


def test_config_set_refuses_an_unknown_key_and_names_the_nearest(tmp_path):
    path = tmp_path / "site.properties"
    result = omero_mail("--config", str(path), "config", "set", "omero.mail.prot", "587")
    assert result.returncode == 1
    assert one_line(result) == ("omero-mail: error: unknown property 'omero.mail.prot'; did you mean "
                                "omero.mail.port? (--force writes it anyway)")
    assert not path.exists()


def test_config_set_with_force_writes_an_unknown_key(tmp_path):
    path = tmp_path / "site.properties"
    result = omero_mail("--config", str(path), "config", "set", "site.mail.domain", "example.org", "--force")
    assert result.returncode == 0, result.stderr
    assert path.read_text() == "site.mail.domain=example.org\n"


def test_config_set_takes_a_per_type_flood_key(tmp_path):
    path = tmp_path / "site.properties"
    result = omero_mail("--config", str(path), "config", "set", "omero.mail.flood.web.error.threshold", "1")
    assert result.returncode == 0, result.stderr


def test_config_list_cut_short_by_its_reader_ends_quietly():
    result = into_a_closed_pipe("config", "list")
    assert (result.returncode, result.stderr) == (141, "")


def test_senders_cut_short_by_its_reader_ends_quietly(tmp_path):
    shutil.copy(ROOT / "etc" / "mail-senders.example", tmp_path / "mail-senders.xml")
    result = into_a_closed_pipe("senders", "--dir", str(tmp_path), env={"OMERO_MAIL_CONFIG": "true"})
    assert (result.returncode, result.stderr) == (141, "")


def test_publish_spool_of_a_file_that_does_not_exist_is_exit_1():
    result = omero_mail("publish-spool", "/nonexistent")
    assert result.returncode == 1
    assert one_line(result).startswith("omero-mail: error: no spool file /nonexistent ")


def test_publish_spool_of_an_emptied_file_is_nothing_spooled_and_keeps_it(tmp_path):
    spool = tmp_path / "spool.jsonl"
    spool.write_bytes(b"")
    result = omero_mail("publish-spool", str(spool))
    assert (result.returncode, result.stdout) == (0, f"{spool}: nothing spooled\n")
    assert spool.exists()


def test_failed_replay_of_an_id_not_parked_is_exit_1_like_show(amqp_url):
    declare_topology(amqp_url, topo.build())
    for action in ("show", "replay", "purge"):
        result = omero_mail("failed", action, "deadbeef", env={"OMERO_MAIL_BROKER_URL": amqp_url})
        assert result.returncode == 1, action
        assert one_line(result).startswith("omero-mail: error: no message 'deadbeef' in omero.mail.failed")


def test_publish_help_lists_the_data_fields_of_each_event_type():
    out = omero_mail("publish", "--help").stdout
    assert "login.failed     user*, remote_addr" in out
    assert "comment.added    comment_id*, image_id*, image_owner_id*, commenter_id*, text, image_name" in out


@pytest.mark.slow
def test_pip_install_puts_the_readme_and_the_example_senders_under_share(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shared = {Path(n).name for n in names if "/data/share/omero-mail/" in n}
    assert shared == {"README.rst", "mail-senders.example", "omero-mail-senders.example", "omero-mail.env",
                      "omero-server.env"}


def test_broadcast_with_a_bad_results_expiry_is_one_line_and_exit_1(tmp_path):
    result = omero_mail("broadcast", "Subject", "Body", "--everyone", "--no-wait",
                        env={"OMERO_MAIL_BROADCAST_RESULTS_EXPIRES": "7days"})
    assert result.returncode == 1
    assert one_line(result) == ("omero-mail: error: omero.mail.broadcast.results.expires='7days' "
                                "(from the environment): expected a duration such as 30s, 5m or 1h")


@pytest.mark.parametrize("command", [["definitions"], ["publish", "server.startup"], ["failed", "list"],
                                     ["senders"], ["broadcast", "status", "0123"]])
def test_every_command_checks_every_typed_property_as_it_starts(command):
    result = omero_mail(*command, env={"OMERO_MAIL_BROADCAST_USERS": "ops"})
    assert result.returncode == 1
    assert one_line(result).startswith("omero-mail: error: omero.mail.broadcast.users='ops' (from the environment)")


def unread_warnings(result) -> list[str]:
    return [line.split(": ", 1)[1] for line in result.stderr.splitlines() if " WARNING " in line]


def test_a_misspelt_key_in_a_config_file_is_warned_about_with_the_nearest_key(tmp_path):
    path = tmp_path / "site.properties"
    path.write_text("omero.mail.smtp.starttls.enabled=true\nomero.mail.prot=8025\nsite.mail.domain=example.org\n")
    result = omero_mail("--config", str(path), "config", "get", "omero.mail.port")
    assert (result.returncode, result.stdout) == (0, "25\n")
    assert unread_warnings(result) == [
        f"omero.mail.prot (set in {path}) is not a property omero-mail reads, so it is ignored; "
        "did you mean omero.mail.port?",
        f"omero.mail.smtp.starttls.enabled (set in {path}) is not a property omero-mail reads, so it is ignored; "
        "did you mean omero.mail.smtp.starttls.enable?"]


def test_a_misspelt_key_in_omeros_config_xml_is_warned_about_with_the_nearest_key(tmp_path):
    path = tmp_path / "config.xml"
    path.write_text('<icegrid><properties id="default"><property name="omero.mail.smtp.starttls.enabled" '
                    'value="true"/><property name="omero.db.host" value="db"/></properties></icegrid>')
    result = omero_mail("--omero-config", str(path), "config", "get", "omero.mail.smtp.starttls.enable")
    assert (result.returncode, result.stdout) == (0, "false\n")
    assert unread_warnings(result) == [
        f"omero.mail.smtp.starttls.enabled (set in {path}) is not a property omero-mail reads, so it is ignored; "
        "did you mean omero.mail.smtp.starttls.enable?"]


def test_a_misspelt_environment_variable_is_warned_about_with_the_nearest_name_and_its_key():
    result = omero_mail("config", "get", "omero.mail.port", env={"OMERO_MAIL_PROT": "8025",
                                                                  "OMERO_MAIL_TEST_AMQP_URL": "amqp://tests"})
    assert (result.returncode, result.stdout) == (0, "25\n")
    assert unread_warnings(result) == [
        "OMERO_MAIL_PROT (set in the environment) is not a property omero-mail reads, so it is ignored; "
        "did you mean OMERO_MAIL_PORT (omero.mail.port)?"]


def test_a_flood_key_of_a_misspelt_event_type_is_warned_about(tmp_path):
    result = omero_mail("config", "list", env={"OMERO_MAIL_FLOOD_LOGIN_FAILD_THRESHOLD": "1"})
    assert result.returncode == 0
    assert unread_warnings(result) == [
        "omero.mail.flood.login.faild.threshold (set in the environment) is not a property omero-mail reads, "
        "so it is ignored; did you mean omero.mail.flood.login.failed.threshold?"]


OMEROS_MAIL_PROPERTIES = (  # omero-common.properties, as /work/shared/omero/REFERENCE.md lists them
    "omero.mail.config", "omero.mail.host", "omero.mail.port", "omero.mail.from", "omero.mail.username",
    "omero.mail.password", "omero.mail.transport.protocol", "omero.mail.smtp.auth", "omero.mail.smtp.starttls.enable",
    "omero.mail.smtp.connectiontimeout", "omero.mail.smtp.timeout", "omero.mail.smtp.debug",
    "omero.mail.smtp.socketFactory.class", "omero.mail.smtp.socketFactory.port",
    "omero.mail.smtp.socketFactory.fallback", "omero.mail.bean")


def test_omeros_own_mail_properties_are_all_read_so_none_is_warned_about(tmp_path):
    path = tmp_path / "omero.properties"
    path.write_text("".join(f"{key}={DEFAULTS[key]}\n" for key in OMEROS_MAIL_PROPERTIES))
    result = omero_mail("--config", str(path), "config", "list")
    assert result.returncode == 0 and result.stderr == ""
