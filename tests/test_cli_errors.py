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
from events.broker import declare_topology

from .services import free_port

ROOT = Path(__file__).resolve().parent.parent


def omero_mail(*args, env=None, stdout=subprocess.PIPE, timeout=60):
    environ = {"PATH": os.environ.get("PATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "consumer.cli", *args], stdout=stdout, stderr=subprocess.PIPE,
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
    assert shared == {"README.rst", "mail-senders.example", "omero-mail-senders.example", "omero-mail.env"}
