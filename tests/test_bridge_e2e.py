"""From a running OMERO to the mail OMERO would have sent, with no hand-published event.

OMERO's tables (tests/omero/schema.sql) written as OMERO writes them, and Blitz-0.log
lines in OMERO's format; ``omero-mail bridge`` as a process of its own, connected as the
read-only role of README's grants; the consumer reading OMERO's own database as its
directory and OMERO's own Spring senders file; real RabbitMQ and an aiosmtpd server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .bridge_helpers import start_bridge, write_properties
from .conftest import ROOT, wait_for

OMERO_SPRING_FILE = ROOT / "senders" / "data" / "omero-mail-senders.example"
FAILED_LOGIN = ("2026-12-02 10:15:03,114 WARN  [  ome.security.auth.LoginAttemptListener] (l.Server-7) "
                "1 failed logins for {user}. Throttling for 3000")
#: Beside OMERO's own file, in OMERO's Spring syntax: senders on OMERO's UPDATE and DELETE actions.
IMAGE_WATCH_BEANS = """<?xml version="1.0" encoding="UTF-8"?>
<beans xmlns="http://www.springframework.org/schema/beans">
  <bean id="imageRenamedMailSender" class="ome.services.mail.ObjectMailSender">
      <property name="enabled" value="${omero.mail.config}"/>
      <property name="action" value="UPDATE"/>
      <property name="objectClass" value="ome.model.core.Image"/>
      <property name="queryString" value="select g from ExperimenterGroup g where g.id = :systemGroupId"/>
  </bean>
  <bean id="imageDeletedMailSender" class="ome.services.mail.ObjectMailSender">
      <property name="enabled" value="${omero.mail.config}"/>
      <property name="action" value="DELETE"/>
      <property name="objectClass" value="ome.model.core.Image"/>
      <property name="queryString" value="select e from Experimenter e where e.id = :rootUserId"/>
  </bean>
</beans>
"""
STARTED = ("2026-12-02 09:00:41,870 INFO  [                ome.services.blitz.Entry] (      main) "
           "OMERO.blitz now accepting connections.")


@pytest.fixture
def site(omero_db, bridge_props, make_service, smtp_server, tmp_path):
    """OMERO with root (root@example.org) as its admin, the consumer, and the bridge running."""
    senders = tmp_path / "omero-senders"
    senders.mkdir()
    shutil.copy(OMERO_SPRING_FILE, senders / "mail-senders.xml")
    (senders / "image-senders.xml").write_text(IMAGE_WATCH_BEANS)
    omero_db.set_email(0, "root@example.org")
    make_service(**{"omero__mail__senders__dir": str(senders), "omero__mail__directory__backend": "postgres",
                    "omero__mail__directory__dsn": omero_db.bridge_dsn,
                    "omero__mail__directory__refresh": "0.2"})
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    bridge = start_bridge(config, log=tmp_path / "bridge.log")
    wait_for(lambda: (tmp_path / "bridge-state.json").exists(), 30, what="the bridge to start")
    yield omero_db
    bridge.terminate()
    assert bridge.wait(30) == 0


def recipients(messages):
    return sorted(m["To"] for m in messages)


def test_a_new_user_in_omero_mails_the_admins(site, smtp_server):
    with site.transaction() as tx:
        tx.new_experimenter("dora", "dora@example.org")
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert (mail["To"], mail["Subject"]) == ("root@example.org", "[OMERO] INSERT Experimenter notification")
    assert "class ome.model.meta.Experimenter:" in mail.get_content()


def test_a_new_group_in_omero_mails_root(site, smtp_server):
    with site.transaction() as tx:
        group = tx.new_group("lab-7")
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert mail["Subject"] == "[OMERO] INSERT ExperimenterGroup notification"
    assert f"class ome.model.meta.ExperimenterGroup:{group} - INSERT" in mail.get_content()


def test_a_comment_by_another_user_mails_the_image_owner(site, smtp_server):
    with site.transaction() as tx:
        owner = tx.new_experimenter("owner", "owner@example.org")
        commenter = tx.new_experimenter("commenter", "commenter@example.org")
    with site.transaction(user=owner) as tx:
        image = tx.new_image("tumour.tif")
    with site.transaction(user=commenter) as tx:
        comment = tx.new_annotation("Look at this cell")
    with site.transaction(user=commenter) as tx:
        tx.link(image, comment)
    mails = smtp_server.wait_for_messages(3, timeout=30)  # two new users for root, the comment for the owner
    [note] = [m for m in mails if "CommentAnnotation" in m["Subject"]]
    assert note["To"] == "owner@example.org"
    assert f"class ome.model.annotations.CommentAnnotation:{comment} - INSERT" in note.get_content()


def test_a_comment_by_the_image_owner_mails_nobody(site, smtp_server):
    with site.transaction() as tx:
        owner = tx.new_experimenter("owner", "owner@example.org")
    with site.transaction(user=owner) as tx:
        image = tx.new_image("mine.tif")
        tx.link(image, tx.new_annotation("note to self"))
    with site.transaction() as tx:
        tx.new_group("marker")  # mailed to root after the comment was handled
    mails = smtp_server.wait_for_messages(2, timeout=30)
    assert [m for m in mails if "CommentAnnotation" in m["Subject"]] == []


def test_an_update_in_omero_mails_an_update_sender_of_omeros_spring_syntax(site, smtp_server):
    with site.transaction() as tx:
        image = tx.new_image("before.tif")
    with site.transaction() as tx:
        tx.rename_image(image, "after.tif")
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert (mail["To"], mail["Subject"]) == ("root@example.org", "[OMERO] UPDATE Image notification")
    assert mail.get_content() == f"Modified objects:\nclass ome.model.core.Image:{image} - UPDATE\n"


def test_a_delete_in_omero_mails_a_delete_sender_of_omeros_spring_syntax(site, smtp_server):
    with site.transaction() as tx:
        image = tx.new_image("doomed.tif")
    with site.transaction() as tx:
        tx.delete_image(image)
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert (mail["To"], mail["Subject"]) == ("root@example.org", "[OMERO] DELETE Image notification")
    assert f"class ome.model.core.Image:{image} - DELETE" in mail.get_content()


def test_a_failed_login_in_omeros_log_mails_the_admins(site, smtp_server, tmp_path):
    with open(tmp_path / "Blitz-0.log", "a") as log:
        log.write(FAILED_LOGIN.format(user="root") + "\n")
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert (mail["To"], mail["Subject"]) == ("root@example.org", "[OMERO] Login failed for 'root'")


def test_omero_starting_mails_the_admins(site, smtp_server, tmp_path):
    with open(tmp_path / "Blitz-0.log", "a") as log:
        log.write(STARTED + "\n")
    [mail] = smtp_server.wait_for_messages(1, timeout=30)
    assert mail["Subject"] == "[OMERO] Server started"


def test_the_bridge_stops_cleanly_on_sigterm(bridge_props, tmp_path):
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    bridge = start_bridge(config)
    wait_for(lambda: (tmp_path / "bridge-state.json").exists(), 30, what="the bridge to start")
    bridge.terminate()
    assert bridge.wait(30) == 0


def test_an_unreachable_database_is_waited_for_not_a_crash(bridge_props, tmp_path):
    bridge_props.update({"omero.mail.bridge.dsn": "host=127.0.0.1 port=1 dbname=omero user=omero"}, origin="test")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    log = tmp_path / "bridge.log"
    bridge = start_bridge(config, log=log)
    try:
        wait_for(lambda: "OMERO's database" in log.read_text(), 30, what="the outage to be logged")
        assert bridge.poll() is None
    finally:
        bridge.terminate()
        assert bridge.wait(30) == 0
    assert "Traceback" not in log.read_text()


def test_bridge_help_names_its_options():
    done = subprocess.run([sys.executable, "-m", "consumer.admin.cli", "bridge", "--help"],
                          capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0 and "--from-id" in done.stdout and "--once" in done.stdout


def test_a_role_without_the_grants_stops_the_bridge_with_one_line(omero_db, bridge_props, tmp_path):
    with omero_db.connect() as conn:
        conn.execute(f"REVOKE SELECT ON eventlog FROM {omero_db.bridge_dsn.rpartition('user=')[2]}")
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    done = subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("omero-mail: error: OMERO's database") and "permission denied for table eventlog" in line
    assert "Traceback" not in done.stderr


def test_a_log_the_bridge_may_not_read_stops_it_with_one_line(omero_db, bridge_props, tmp_path):
    log = tmp_path / "Blitz-0.log"
    log.mkdir()  # unreadable as a log whoever runs the test (root reads a file of mode 0)
    config = write_properties(bridge_props, tmp_path / "bridge.properties")
    done = subprocess.run([sys.executable, "-m", "consumer.admin.cli", "--config", str(config), "bridge"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"omero-mail: error: cannot read OMERO's log {log}")
