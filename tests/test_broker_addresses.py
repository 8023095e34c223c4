"""``omero.mail.broker.url`` as a list of nodes: how it is read, tried in turn, and refused."""

from __future__ import annotations

import pytest

from events import topology as topo
from events.broker import BrokerError, Message, Publisher, declare_topology, queue_depths
from events.broker.connection import addresses, parameters, redacted
from events.config import Properties
from events.settings import queue_settings
from events.schemas import new_event

from .test_cli import omero_mail

THREE = "amqp://omero:s3cret@rabbit1,rabbit2:5673,rabbit3/omero?heartbeat=30"


def test_one_url_may_name_several_hosts_that_share_its_user_vhost_and_options():
    assert addresses(THREE) == ["amqp://omero:s3cret@rabbit1/omero?heartbeat=30",
                                "amqp://omero:s3cret@rabbit2:5673/omero?heartbeat=30",
                                "amqp://omero:s3cret@rabbit3/omero?heartbeat=30"]


def test_several_urls_may_be_given_separated_by_commas_or_spaces():
    assert addresses("amqp://a:x@h1/%2F, amqps://b:y@h2:5671/%2F  amqp://c:z@h3/v") == [
        "amqp://a:x@h1/%2F", "amqps://b:y@h2:5671/%2F", "amqp://c:z@h3/v"]


def test_each_node_gets_its_own_connection_parameters_in_order():
    found = parameters(THREE, heartbeat=5, name="test")
    assert [(p.host, p.port, p.virtual_host, p.heartbeat) for p in found] == [
        ("rabbit1", 5672, "omero", 5), ("rabbit2", 5673, "omero", 5), ("rabbit3", 5672, "omero", 5)]


@pytest.mark.parametrize("url, problem", [
    ("", "empty"),
    ("amqp://u:s3cret@h1,,h3/%2F", "empty host"),
    ("amqp://u:s3cret@h1,/%2F", "empty host"),
    ("amqp://u:s3cret@h1:notaport/%2F", "port"),
    ("http://u:s3cret@h1/%2F", "not an amqp"),
    ("rabbit1,rabbit2", "not an amqp"),
])
def test_a_bad_list_is_one_error_naming_the_problem_without_the_password(url, problem):
    with pytest.raises(BrokerError) as error:
        addresses(url)
    assert problem in str(error.value) and "s3cret" not in str(error.value) and "\n" not in str(error.value)


def test_a_url_with_several_nodes_is_shown_with_every_node_and_no_password():
    shown = redacted(THREE)
    assert shown.count("********") == 3 and "rabbit2:5673" in shown and "s3cret" not in shown


def test_config_list_hides_the_password_of_every_url_in_the_list():
    props = Properties({"omero.mail.broker.url": "amqp://a:pw1@h1/%2F,amqp://b:pw2@h2/%2F"})
    shown = props.shown("omero.mail.broker.url")
    assert "pw1" not in shown and "pw2" not in shown and "h1" in shown and "h2" in shown


def test_several_nodes_mean_quorum_queues_unless_the_queue_type_is_set():
    assert queue_settings(Properties({"omero.mail.broker.url": THREE})).type == "quorum"
    assert queue_settings(Properties({"omero.mail.broker.url": "amqp://u:p@h1/%2F"})).type == "classic"
    classic = Properties({"omero.mail.broker.url": THREE, "omero.mail.queue.type": "classic"})
    assert queue_settings(classic).type == "classic"


def test_a_publisher_skips_a_node_that_is_down_and_publishes_to_the_next(amqp_url):
    declare_topology(amqp_url, topo.build())
    head, _, vhost = amqp_url.rpartition("/")
    both = f"amqp://guest:guest@127.0.0.1:1,{head.split('@', 1)[1]}/{vhost}"
    event = new_event("server.startup", {}, source="tests")
    with Publisher(both) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    assert queue_depths(both, [topo.EVENTS_QUEUE])[topo.EVENTS_QUEUE] == 1


@pytest.mark.parametrize("command", [["publish", "server.startup"], ["consume"], ["declare"]])
def test_a_bad_list_stops_a_command_with_one_line_and_exit_1(command):
    result = omero_mail(*command, env={"OMERO_MAIL_BROKER_URL": "amqp://guest:hunter2@h1,,h3/%2F"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("omero-mail: error: omero.mail.broker.url")
    assert "hunter2" not in result.stderr
