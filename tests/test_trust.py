"""Who may publish what, as pure rules: the stages' checks, the roles' grants, the settings."""

from __future__ import annotations

import logging

import pytest

from consumer.access import roles
from consumer.admin.cli import main
from consumer.access.credentials import with_login
from consumer.access.definitions import definitions
from consumer.stages.service import Service
from consumer.access.trust import Trust, acting_for, broker_user
from events import topology as topo
from events.config import ConfigError, Properties
from events.schemas import new_event

from .conftest import ROOT

CHECKED = Trust(checked=True, rules_user="rules", delivery_user="delivery", acts_for=acting_for("ops:root, ops:jane"))
BROADCAST = {"subject": "S", "body": "B", "everyone": True}


def broadcast_as(admin: str):
    return new_event("admin.broadcast", {**BROADCAST, "requested_by": admin})


def test_a_broker_user_may_broadcast_as_the_omero_admin_of_its_own_name():
    assert CHECKED.refuses_event(broadcast_as("root"), "admin.broadcast", "root") is None


def test_a_broker_user_may_not_broadcast_as_another_admin():
    assert "'alice' may not broadcast as 'root'" in CHECKED.refuses_event(broadcast_as("root"), "admin.broadcast",
                                                                           "alice")


def test_a_mapped_broker_user_may_broadcast_as_each_admin_it_is_mapped_to():
    assert all(CHECKED.refuses_event(broadcast_as(name), "admin.broadcast", "ops") is None for name in ("root", "jane"))


def test_a_broadcast_without_a_user_id_is_refused():
    assert CHECKED.refuses_event(broadcast_as("root"), "admin.broadcast", None)


def test_an_event_under_another_types_routing_key_is_refused():
    event = new_event("login.failed", {"user": "root"})
    assert "routing key 'web.error'" in CHECKED.refuses_event(event, "web.error", "web")


def test_the_outbox_takes_the_rules_stage_and_the_delivery_stages_retries_only():
    assert CHECKED.refuses_outbox("rules") is None and CHECKED.refuses_outbox("delivery") is None
    assert "not by the rules stage" in CHECKED.refuses_outbox("root")
    assert CHECKED.refuses_outbox(None)


def test_unchecked_accepts_anything():
    assert Trust().refuses_event(broadcast_as("root"), "web.error", None) is None
    assert Trust().refuses_outbox("guest") is None


def test_a_malformed_mapping_names_the_property():
    with pytest.raises(ConfigError, match="omero.mail.broadcast.users"):
        Trust.from_properties(Properties({"omero.mail.broadcast.users": "ops"}))


def test_a_stage_connecting_as_another_user_than_its_role_stops_at_start(tmp_path):
    props = Properties({"omero.mail.broker.check-publishers": "true", "omero.mail.senders.dir": str(tmp_path),
                        "omero.mail.broker.url": "amqp://guest:guest@127.0.0.1:1/%2F"})
    with pytest.raises(ConfigError, match="the rules stage connects to RabbitMQ as 'guest'"):
        Service(props, ("rules",))


def test_without_checks_the_consumer_warns_once_that_publishers_are_not_authenticated(tmp_path, caplog):
    props = Properties({"omero.mail.senders.dir": str(tmp_path)})
    with caplog.at_level(logging.WARNING, "consumer.stages.service"):
        Service(props)
    assert [r.message for r in caplog.records if "not authenticated" in r.message] == [
        "omero.mail.broker.check-publishers is false: publishers are not authenticated, so whoever can publish "
        "to this broker can have any mail sent (README, Security)"]


def test_config_list_shows_the_checks(capsys):
    assert main(["config", "list"]) == 0
    out = capsys.readouterr().out
    assert "omero.mail.broker.check-publishers" in out and "omero.mail.broker.rules-user" in out


def test_the_broker_user_of_a_url():
    assert broker_user("amqp://web%40site:pw@host/%2F") == "web@site"
    assert broker_user("amqp://host/%2F") == "guest"


def test_the_admins_login_replaces_the_urls_with_the_password_quoted():
    assert with_login("amqp://guest:guest@h:5672/v", "root", "p@ss:w") == "amqp://root:p%40ss%3Aw@h:5672/v"


def test_one_user_holding_both_stages_gets_both_grants():
    [stage, *_] = roles.grants(topo.build(), rules="omero-mail", delivery="omero-mail", web="w", bridge="b",
                               replay="p", server="s", webapp="a", admins=["root"])
    assert stage.user == "omero-mail"
    assert roles.pattern(stage.read) == r"^(omero\.events|omero\.mail|omero\.mail\.events|omero\.mail\.rules\.state|" \
                                        r"omero\.mail\.outbox|omero\.mail\.failed|omero\.mail\.invalid)$"


def test_definitions_hold_no_users_and_no_passwords():
    document = definitions(topo.build(), "/", roles.grants(topo.build(), rules="r", delivery="d", web="w",
                                                          bridge="b", replay="p", server="s", webapp="a",
                                                          admins=["root"]))
    assert "users" not in document and "password" not in str(document)
    assert {p["user"] for p in document["permissions"]} == {"r", "d", "w", "b", "p", "s", "a", "root"}


def test_the_checked_in_users_script_is_the_generated_one():
    grants = roles.from_properties(topo.build(), Properties(), ["root"])
    assert (ROOT / "deploy" / "rabbitmq" / "users.sh").read_text() == roles.rabbitmqctl(grants, "/"), \
        "regenerate with: omero-mail definitions --rabbitmqctl -o deploy/rabbitmq/users.sh"
