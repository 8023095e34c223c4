"""Every OMERO sender end to end: an event at the real broker, OMERO's mails at a real SMTP server.

Each test runs twice: with our ``etc/mail-senders.example`` and with OMERO's own Spring
file, both copied unchanged to ``.xml``; the mails must be the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLE_SENDERS, write_directory
from .test_directory_backends import create_omero_tables

ROOT = Path(__file__).resolve().parent.parent
OMERO_SPRING_FILE = ROOT / "senders" / "data" / "omero-mail-senders.example"
DEFAULT_BODY = "Automated email sent by the OMERO server.\n"


@pytest.fixture(params=["ours", "omero-spring"])
def senders_dir(request, tmp_path) -> Path:
    folder = tmp_path / "senders"
    folder.mkdir()
    shutil.copy(EXAMPLE_SENDERS if request.param == "ours" else OMERO_SPRING_FILE, folder / "mail-senders.xml")
    return folder


def mails(smtp_server, count):
    messages = smtp_server.wait_for_messages(count)
    assert len(messages) == count
    assert [len(r.rcpt_tos) for r in smtp_server.received] == [1] * count
    return sorted((m["To"], m["Subject"], m.get_content()) for m in messages)


def nothing_before_a_marker(publish, smtp_server):
    """Publish a server start after the event under test; only its two mails may arrive."""
    publish("server.startup")
    assert {subject for _, subject, _ in mails(smtp_server, 2)} == {"[OMERO] Server started"}


def test_server_up_mails_the_admins(make_service, publish, smtp_server):
    make_service()
    publish("server.startup", {"server": "omero-1"})
    assert mails(smtp_server, 2) == [("alice@example.org", "[OMERO] Server started", DEFAULT_BODY),
                                     ("root@example.org", "[OMERO] Server started", DEFAULT_BODY)]


def test_server_down_mails_the_admins(make_service, publish, smtp_server):
    make_service()
    publish("server.shutdown", {"server": "omero-1"})
    assert mails(smtp_server, 2) == [("alice@example.org", "[OMERO] Server shutdown", DEFAULT_BODY),
                                     ("root@example.org", "[OMERO] Server shutdown", DEFAULT_BODY)]


def test_failed_login_of_root_mails_the_admins(make_service, publish, smtp_server):
    make_service()
    publish("login.failed", {"user": "root", "remote_addr": "192.0.2.7"})
    assert mails(smtp_server, 2) == [("alice@example.org", "[OMERO] Login failed for 'root'", DEFAULT_BODY),
                                     ("root@example.org", "[OMERO] Login failed for 'root'", DEFAULT_BODY)]


def test_failed_login_of_an_unwatched_user_mails_nobody(make_service, publish, smtp_server):
    make_service()
    publish("login.failed", {"user": "carol"})
    nothing_before_a_marker(publish, smtp_server)


def test_new_user_mails_the_admins(make_service, publish, smtp_server):
    make_service()
    publish("object.created", {"object_class": "Experimenter", "object_id": 5, "name": "dave"})
    body = "Modified objects:\nclass ome.model.meta.Experimenter:5 - INSERT\n"
    assert mails(smtp_server, 2) == [("alice@example.org", "[OMERO] INSERT Experimenter notification", body),
                                     ("root@example.org", "[OMERO] INSERT Experimenter notification", body)]


def test_new_group_mails_root_only(make_service, publish, smtp_server):
    make_service()
    publish("object.created", {"object_class": "ome.model.meta.ExperimenterGroup", "object_id": 3})
    assert mails(smtp_server, 1) == [("root@example.org", "[OMERO] INSERT ExperimenterGroup notification",
                                      "Modified objects:\nclass ome.model.meta.ExperimenterGroup:3 - INSERT\n")]


def test_new_comment_mails_the_image_owner(make_service, publish, smtp_server):
    make_service()
    publish("comment.added", {"comment_id": 11, "image_id": 7, "image_owner_id": 4, "commenter_id": 2})
    assert mails(smtp_server, 1) == [("carol@example.org", "[OMERO] INSERT CommentAnnotation notification",
                                      "Modified objects:\nclass ome.model.annotations.CommentAnnotation:11 - INSERT\n")]


def test_a_comment_by_the_image_owner_mails_nobody(make_service, publish, smtp_server):
    make_service()
    publish("comment.added", {"comment_id": 11, "image_id": 7, "image_owner_id": 4, "commenter_id": 4})
    nothing_before_a_marker(publish, smtp_server)


def test_another_object_class_mails_nobody(make_service, publish, smtp_server):
    make_service()
    publish("object.created", {"object_class": "Image", "object_id": 5})
    nothing_before_a_marker(publish, smtp_server)


def test_event_senders_send_nothing_when_omero_mail_config_is_false(make_service, publish, smtp_server):
    make_service(omero__mail__config="false")
    publish("login.failed", {"user": "root"})
    publish("object.created", {"object_class": "Experimenter", "object_id": 5})
    publish("admin.broadcast", {"subject": "Maintenance", "body": "Tonight.", "user_names": ["carol"],
                                "requested_by": "root"})
    messages = smtp_server.wait_for_messages(1)
    assert [(m["To"], m["Subject"]) for m in messages] == [("carol@example.org", "Maintenance")]


def test_a_watched_user_and_a_template_subject_from_our_own_file(make_service, publish, smtp_server, tmp_path):
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "login.xml").write_text(
        '<mail-senders><sender id="loginToUser" class="FailedLoginMailSender">'
        '<property name="contactUser" value="true"/><property name="onAllUsers" value="true"/>'
        '<property name="subjectPrefix" value="[Lab] "/>'
        '<property name="subject" value="Failed login as ${user} from ${remote_addr}"/>'
        '<property name="defaultBody" value="If this was not you, tell the admins."/>'
        '</sender></mail-senders>')
    make_service(omero__mail__senders__dir=str(folder))
    publish("login.failed", {"user": "carol", "remote_addr": "192.0.2.7"})
    assert mails(smtp_server, 1) == [("carol@example.org", "[Lab] Failed login as carol from 192.0.2.7",
                                      "If this was not you, tell the admins.\n")]


def test_a_user_without_email_is_skipped(make_service, publish, smtp_server, tmp_path):
    directory = write_directory(tmp_path / "nomail.json", [
        {"id": 0, "omeName": "root", "email": None, "groups": ["system", "user"]},
        {"id": 2, "omeName": "alice", "email": "alice@example.org", "groups": ["system", "user"]},
    ])
    make_service(omero__mail__directory__file=str(directory))
    publish("object.created", {"object_class": "ExperimenterGroup", "object_id": 3})
    publish("server.startup")
    assert mails(smtp_server, 1) == [("alice@example.org", "[OMERO] Server started", DEFAULT_BODY)]


def test_recipients_come_from_omeros_postgresql_tables(make_service, publish, smtp_server, postgres_dsn):
    create_omero_tables(postgres_dsn)
    make_service(omero__mail__directory__backend="postgres", omero__mail__directory__dsn=postgres_dsn)
    publish("comment.added", {"comment_id": 12, "image_id": 7, "image_owner_id": 2, "commenter_id": 3})
    assert mails(smtp_server, 1) == [("alice@example.org", "[OMERO] INSERT CommentAnnotation notification",
                                      "Modified objects:\nclass ome.model.annotations.CommentAnnotation:12 - INSERT\n")]


#: Beans in OMERO's Spring syntax, beside OMERO's own file: OMERO's UPDATE and DELETE actions.
UPDATE_DELETE_BEANS = """<?xml version="1.0" encoding="UTF-8"?>
<beans xmlns="http://www.springframework.org/schema/beans">
  <bean id="watchMailSender" abstract="true">
      <property name="enabled" value="${omero.mail.config}"/>
      <property name="executor" ref="executor"/>
      <property name="queryService" ref="internal-ome.api.IQuery"/>
  </bean>
  <bean id="imageUpdatedMailSender" parent="watchMailSender" class="ome.services.mail.ObjectMailSender">
      <property name="action" value="UPDATE"/>
      <property name="objectClass" value="ome.model.core.Image"/>
      <property name="queryString" value="select g from ExperimenterGroup g where g.id = :systemGroupId"/>
  </bean>
  <bean id="mapAnnotationDeletedMailSender" parent="watchMailSender" class="ome.services.mail.ObjectMailSender">
      <property name="action" value="DELETE"/>
      <property name="objectClass" value="ome.model.annotations.MapAnnotation"/>
      <property name="queryString" value="select e from Experimenter e where e.id = :rootUserId"/>
  </bean>
</beans>
"""
with_update_and_delete_beans = pytest.mark.parametrize("senders_dir", ["omero-spring"], indirect=True)


@pytest.fixture
def update_delete_beans(senders_dir):
    (senders_dir / "watch-senders.xml").write_text(UPDATE_DELETE_BEANS)


@with_update_and_delete_beans
def test_an_update_sender_mails_the_admins_on_object_updated(update_delete_beans, make_service, publish, smtp_server):
    make_service()
    publish("object.updated", {"object_class": "ome.model.core.Image", "object_id": 7, "actor_id": 4})
    body = "Modified objects:\nclass ome.model.core.Image:7 - UPDATE\n"
    assert mails(smtp_server, 2) == [("alice@example.org", "[OMERO] UPDATE Image notification", body),
                                     ("root@example.org", "[OMERO] UPDATE Image notification", body)]


@with_update_and_delete_beans
def test_a_delete_sender_mails_root_on_object_deleted(update_delete_beans, make_service, publish, smtp_server):
    make_service()
    publish("object.deleted", {"object_class": "ome.model.annotations.MapAnnotation", "object_id": 12})
    assert mails(smtp_server, 1) == [("root@example.org", "[OMERO] DELETE MapAnnotation notification",
                                      "Modified objects:\nclass ome.model.annotations.MapAnnotation:12 - DELETE\n")]


@with_update_and_delete_beans
def test_an_update_of_a_class_no_sender_watches_mails_nobody(update_delete_beans, make_service, publish, smtp_server):
    make_service()
    publish("object.updated", {"object_class": "ome.model.core.Pixels", "object_id": 7})
    publish("object.deleted", {"object_class": "ome.model.core.Image", "object_id": 7})
    nothing_before_a_marker(publish, smtp_server)
