"""The omero-mail command line: exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from events import topology as topo
from events.broker import declare_topology, queue_depths


def omero_mail(*args, env=None):
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_publish_exits_zero_once_the_broker_confirmed_the_event(amqp_url):
    declare_topology(amqp_url, topo.build())
    result = omero_mail("publish", "login.failed", "--data", '{"user": "root"}',
                        env={"OMERO_MAIL_BROKER_URL": amqp_url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published login.failed ")
    assert queue_depths(amqp_url, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1


def test_publish_with_no_queue_bound_fails_with_one_line(amqp_url):
    declare_topology(amqp_url, topo.build())
    subprocess.run(["rabbitmqctl", "-q", "delete_queue", "-p", amqp_url.rsplit("/", 1)[1], topo.EVENTS_QUEUE],
                   check=True, capture_output=True)
    result = omero_mail("publish", "server.startup", env={"OMERO_MAIL_BROKER_URL": amqp_url})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "unroutable" in result.stderr


def test_publish_to_an_unreachable_broker_names_it_without_the_password():
    result = omero_mail("publish", "server.startup",
                        env={"OMERO_MAIL_BROKER_URL": "amqp://guest:hunter2@127.0.0.1:1/%2F"})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("omero-mail: error:") and "Connection refused" in last
    assert "hunter2" not in result.stderr


def test_publish_with_invalid_data_is_a_usage_error():
    result = omero_mail("publish", "login.failed", "--data", "{}")
    assert result.returncode == 2
    assert "usage:" in result.stderr and "data.user" in result.stderr


def test_publish_with_data_that_is_not_json_is_a_usage_error():
    result = omero_mail("publish", "server.startup", "--data", "{oops")
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_an_unknown_command_is_a_usage_error():
    result = omero_mail("frobnicate")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_global_options_may_follow_the_command(tmp_path):
    config = tmp_path / "site.properties"
    config.write_text("omero.mail.host=relay.example\n")
    result = omero_mail("config", "get", "omero.mail.host", "--config", str(config))
    assert result.returncode == 0 and result.stdout.strip() == "relay.example"
