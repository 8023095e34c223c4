"""Refused stays refused: what was parked as untrusted is never replayed into mail unless an admin names it.

Production settings on a real broker: the session's private node, each role its own
broker user with the permissions ``omero-mail definitions --users`` generates, the
publishers checked, and the commands run as an admin runs them (a process each, logged
in as the role the README names: ``failed`` as the delivery stage's user, ``invalid`` as
the replay role's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from consumer import outcomes

from consumer.admin import results
from events import topology as topo
from events.broker import Message, Publisher, QueueBrowser, queue_depths
from events.schemas import new_event

from .conftest import ROOT, wait_for
from .test_identities import BROADCAST, Site, accounts, people  # noqa: F401 - fixtures

pytestmark = pytest.mark.private_broker

FORGED = {"message_id": "<forged@example.org>", "event_id": str(uuid.uuid4()), "event_type": "admin.broadcast",
          "sender": "adminBroadcast", "mail_from": "omero@example.org", "to": "victim@example.org",
          "subject": "s", "text": "t"}


@pytest.fixture
def site(private_rabbitmq, amqp_url, props, people, accounts):  # noqa: F811 - the imported fixtures
    return Site(private_rabbitmq, amqp_url, props, people, accounts)


@pytest.fixture
def stages(site, make_service):
    for stage in ("rules", "delivery"):
        make_service((stage,), omero__mail__broker__url=site.url(stage),
                     **{k.replace(".", "__"): v for k, v in site.properties.items()})
    return site


def omero_mail(site: Site, role: str, *args: str):
    """A command as an admin runs it: the site's properties, logged in as ``role``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMERO_MAIL_BROKER_URL=site.url(role),
               **{k.upper().replace(".", "_").replace("-", "_"): v for k, v in site.properties.items()})
    return subprocess.run([sys.executable, "-m", "consumer.admin.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=ROOT)


def depth(site: Site, queue: str) -> int:
    return queue_depths(site.guest_url, [queue])[queue]


def forge_outbox_message(site: Site) -> None:
    """guest (every permission on the vhost) writes an email into the outbox: the delivery stage refuses it."""
    with Publisher(site.guest_url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, json.dumps(FORGED).encode(), "forged"))
    wait_for(lambda: depth(site, topo.FAILED_QUEUE) == 1, what="the forged email parked")


def listed(site: Site, lot: str, role: str) -> list[dict]:
    result = omero_mail(site, role, lot, "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_replay_of_every_failed_mail_leaves_an_untrusted_one_parked(stages, smtp_server):
    forge_outbox_message(stages)
    result = omero_mail(stages, "delivery", "failed", "replay")
    assert result.returncode == 0, result.stderr
    assert "replayed 0 message(s)" in result.stdout
    assert "1 untrusted message(s) left in omero.mail.failed" in result.stderr and "--untrusted" in result.stderr
    time.sleep(1)
    assert smtp_server.received == [] and depth(stages, topo.FAILED_QUEUE) == 1


def test_a_filter_that_matches_an_untrusted_mail_does_not_replay_it(stages, smtp_server):
    forge_outbox_message(stages)
    result = omero_mail(stages, "delivery", "failed", "replay", "--recipient", "victim")
    assert result.returncode == 0, result.stderr
    assert "replayed 0 message(s)" in result.stdout
    time.sleep(1)
    assert smtp_server.received == []


def test_an_untrusted_mail_named_by_its_id_is_refused_with_the_way_to_vouch_for_it(stages, smtp_server):
    forge_outbox_message(stages)
    result = omero_mail(stages, "delivery", "failed", "replay", "forged")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "untrusted" in line and "--untrusted forged" in line
    assert depth(stages, topo.FAILED_QUEUE) == 1


def test_list_and_show_give_the_verdict(stages):
    forge_outbox_message(stages)
    [entry] = listed(stages, "failed", "delivery")
    assert "'guest'" in entry["untrusted"]
    table = omero_mail(stages, "delivery", "failed", "list").stdout
    assert "untrusted" in table.splitlines()[1]
    shown = omero_mail(stages, "delivery", "failed", "show", "forged").stdout
    assert "untrusted: published by broker user 'guest'" in shown


def test_an_admin_vouches_for_an_untrusted_mail_by_its_id_and_it_is_sent_with_a_warning(stages, smtp_server):
    forge_outbox_message(stages)
    result = omero_mail(stages, "delivery", "failed", "replay", "--untrusted", "forged")
    assert result.returncode == 0, result.stderr
    assert "replayed 1 message(s)" in result.stdout
    [warning] = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert "forged" in warning and "'guest'" in warning and stages.users["delivery"] in warning
    assert smtp_server.wait_for_messages(1)[0]["Message-ID"] == "<forged@example.org>"


def test_a_mail_written_into_the_lot_by_another_user_than_a_stage_is_untrusted(stages, smtp_server):
    with Publisher(stages.guest_url) as publisher:
        publisher.publish(Message(topo.MAIL_EXCHANGE, topo.FAILED_KEY, json.dumps(FORGED).encode(), "forged",
                                  {outcomes.REASON: "550 made up"}))
    [entry] = listed(stages, "failed", "delivery")
    assert "'guest'" in entry["untrusted"] and "not a stage" in entry["untrusted"]
    assert "replayed 0 message(s)" in omero_mail(stages, "delivery", "failed", "replay").stdout
    time.sleep(1)
    assert smtp_server.received == []


def test_a_broadcast_refused_as_untrusted_carries_the_verdict_and_invalid_replay_leaves_it(stages, smtp_server):
    url = stages.url("root")
    event = new_event("admin.broadcast", {**BROADCAST, "requested_by": "alice"}, source="tests")
    results.declare(url, stages.topology, event.id, 60_000)
    with Publisher(url, attempts=1) as publisher:
        publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    wait_for(lambda: depth(stages, topo.INVALID_QUEUE) == 1, what="the broadcast parked")
    [entry] = listed(stages, "invalid", "replay")
    assert "'root'" in entry["untrusted"]
    result = omero_mail(stages, "replay", "invalid", "replay")
    assert result.returncode == 0, result.stderr
    assert "replayed 0 message(s)" in result.stdout and "1 untrusted" in result.stderr
    time.sleep(1)
    assert smtp_server.received == [] and depth(stages, topo.INVALID_QUEUE) == 1


def park_as_the_rules_stage(site: Site, event, routing_key: str) -> None:
    """An event the rules stage parked (a broken rule, since fixed), as it parks one."""
    with Publisher(site.url("rules")) as publisher:
        publisher.publish(outcomes.parked(event.to_json(), event.id, topo.INVALID_KEY,
                                          {outcomes.ROUTING_KEY: routing_key, outcomes.FROM_QUEUE: topo.EVENTS_QUEUE},
                                          "rules failed: KeyError: 'user'"))


def test_invalid_replay_runs_as_the_replay_role_under_the_generated_permissions(stages, smtp_server):
    event = new_event("server.startup", {}, source="tests")
    park_as_the_rules_stage(stages, event, "server.startup")
    result = omero_mail(stages, "replay", "invalid", "replay")
    assert result.returncode == 0, result.stderr
    assert "replayed 1 message(s)" in result.stdout
    assert smtp_server.wait_for_messages(1)
    assert depth(stages, topo.INVALID_QUEUE) == 0


def test_the_replay_role_may_publish_no_broadcast_and_read_no_other_queue(site):
    event = new_event("admin.broadcast", BROADCAST, source="tests")
    with Publisher(site.url("replay"), attempts=1, timeout=10) as publisher:
        with pytest.raises(Exception, match="ACCESS_REFUSED"):
            publisher.publish(Message(topo.EVENTS_EXCHANGE, event.type, event.to_json(), event.id))
    with pytest.raises(Exception, match="ACCESS_REFUSED"):
        with QueueBrowser(site.url("replay"), topo.FAILED_QUEUE) as browser:
            browser.messages()


def test_a_lot_the_url_may_not_read_is_one_line_and_exit_1(site):
    result = omero_mail(site, "web", "failed", "list")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("omero-mail: error: ") and "ACCESS_REFUSED" in line and "omero.mail.failed" in line
