"""Matching an event to senders and resolving recipients: pure functions over data."""

from __future__ import annotations

import pytest

from events.schemas import new_event
from senders.directory import Experimenter, Group, MemoryDirectory
from senders.plan import plan
from senders.rules import make_sender

GROUPS = [Group(0, "system"), Group(1, "user"), Group(2, "guest")]
DIRECTORY = MemoryDirectory([
    Experimenter(0, "root", email="root@example.org", groups=frozenset({"system", "user"})),
    Experimenter(1, "guest", groups=frozenset({"guest"})),
    Experimenter(2, "alice", email="alice@example.org", groups=frozenset({"system", "user"})),
    Experimenter(3, "bob", groups=frozenset({"system", "user"})),
    Experimenter(4, "carol", email="carol@example.org", groups=frozenset({"user"})),
    Experimenter(5, "dave", email="ROOT@example.org", groups=frozenset({"user"})),
], GROUPS)


def mails(sender, kind, data=None):
    return plan(new_event(kind, data or {}), [sender], DIRECTORY, "omero@example.org")


def failed_login(**options):
    return make_sender("FailedLoginMailSender", "failedLogin", options)


def objects(object_class, recipients, **options):
    return make_sender("ObjectMailSender", "objects", {"objectClass": object_class, "action": "INSERT",
                                                       "recipients": recipients, **options})


def test_failed_login_mails_the_admins_with_an_address_for_a_watched_user():
    result = mails(failed_login(contactSystem="true", onSpecificUsers="root"), "login.failed", {"user": "root"})
    assert [m.to for m in result.mails] == ["root@example.org", "alice@example.org"]
    assert {m.subject for m in result.mails} == {"[OMERO] Login failed for 'root'"}
    assert {m.text for m in result.mails} == {"Automated email sent by the OMERO server.\n"}


def test_failed_login_counts_the_admin_without_an_address():
    result = mails(failed_login(contactSystem="true", onSpecificUsers="root"), "login.failed", {"user": "root"})
    assert result.no_email == 1


def test_failed_login_ignores_a_user_not_watched():
    result = mails(failed_login(contactSystem="true", onSpecificUsers="root, alice"), "login.failed", {"user": "carol"})
    assert result.mails == [] and result.senders == []


def test_failed_login_on_all_users_mails_the_user_when_contact_user_is_set():
    result = mails(failed_login(contactUser="true", onAllUsers="true"), "login.failed", {"user": "carol"})
    assert [m.to for m in result.mails] == ["carol@example.org"]


def test_failed_login_for_an_unknown_user_mails_only_the_admins():
    sender = failed_login(contactSystem="true", contactUser="true", onAllUsers="true")
    result = mails(sender, "login.failed", {"user": "mallory"})
    assert [m.to for m in result.mails] == ["root@example.org", "alice@example.org"]


def test_an_address_reached_twice_gets_one_mail():
    sender = failed_login(contactSystem="true", contactUser="true", onSpecificUsers="root")
    result = mails(sender, "login.failed", {"user": "root"})
    assert [m.to for m in result.mails] == ["root@example.org", "alice@example.org"]


def test_only_exactly_equal_addresses_are_one():
    """ome.services.mail.ObjectMailSender collects addresses in a HashSet<String>: case counts."""
    result = mails(objects("Experimenter", "user:root, user:dave, user:root"), "object.created",
                   {"object_class": "Experimenter", "object_id": 9})
    assert [m.to for m in result.mails] == ["root@example.org", "ROOT@example.org"]


def test_new_user_mails_the_admins_omeros_subject_and_body():
    result = mails(objects("Experimenter", "group:system"), "object.created",
                   {"object_class": "ome.model.meta.Experimenter", "object_id": 7})
    assert [m.to for m in result.mails] == ["root@example.org", "alice@example.org"]
    assert {m.subject for m in result.mails} == {"[OMERO] INSERT Experimenter notification"}
    assert {m.text for m in result.mails} == {"Modified objects:\nclass ome.model.meta.Experimenter:7 - INSERT\n"}


@pytest.mark.parametrize("published", ["Experimenter", "ome.model.meta.Experimenter"])
def test_object_sender_accepts_both_class_styles_in_the_event(published):
    result = mails(objects("ome.model.meta.Experimenter", "user:root"), "object.created",
                   {"object_class": published, "object_id": 7})
    assert len(result.mails) == 1


@pytest.mark.parametrize("published", ["ExperimenterGroup", "ome.model.core.Experimenter"])
def test_object_sender_ignores_another_class(published):
    result = mails(objects("Experimenter", "user:root"), "object.created", {"object_class": published, "object_id": 7})
    assert result.mails == []


def test_each_mail_lists_only_its_own_object_not_omeros_accumulated_list():
    sender = objects("ExperimenterGroup", "user:root")
    first = mails(sender, "object.created", {"object_class": "ExperimenterGroup", "object_id": 3})
    second = mails(sender, "object.created", {"object_class": "ExperimenterGroup", "object_id": 4})
    assert second.mails[0].text == "Modified objects:\nclass ome.model.meta.ExperimenterGroup:4 - INSERT\n"
    assert first.mails[0].text.count("class ") == 1


def test_new_comment_mails_the_image_owner_when_someone_else_commented():
    result = mails(objects("CommentAnnotation", "image-owner"), "comment.added",
                   {"comment_id": 11, "image_id": 5, "image_owner_id": 4, "commenter_id": 2})
    assert [m.to for m in result.mails] == ["carol@example.org"]
    assert result.mails[0].subject == "[OMERO] INSERT CommentAnnotation notification"
    assert result.mails[0].text == "Modified objects:\nclass ome.model.annotations.CommentAnnotation:11 - INSERT\n"


def test_new_comment_by_the_image_owner_mails_nobody():
    result = mails(objects("CommentAnnotation", "image-owner"), "comment.added",
                   {"comment_id": 11, "image_id": 5, "image_owner_id": 4, "commenter_id": 4})
    assert result.mails == []


def test_subject_prefix_and_default_body_are_settable():
    sender = make_sender("ServerUpMailSender", "up", {"subjectPrefix": "[Lab] ", "defaultBody": "Hello.\n"})
    result = mails(sender, "server.startup")
    assert {(m.subject, m.text) for m in result.mails} == {("[Lab] Server started", "Hello.\n")}


def test_a_sender_switched_off_sends_nothing():
    result = mails(make_sender("ServerUpMailSender", "up", {"enabled": "false"}), "server.startup")
    assert result.mails == []


def test_subject_template_uses_event_fields():
    sender = failed_login(contactSystem="true", onAllUsers="true", subject="${user} from ${remote_addr}")
    result = mails(sender, "login.failed", {"user": "carol", "remote_addr": "192.0.2.7"})
    assert result.mails[0].subject == "[OMERO] carol from 192.0.2.7"


def test_a_line_break_in_an_event_value_never_reaches_the_subject_as_a_header_break():
    sender = failed_login(contactSystem="true", onAllUsers="true")
    result = mails(sender, "login.failed", {"user": "x\r\nBcc: evil@example.org"})
    assert result.mails[0].subject == "[OMERO] Login failed for 'x Bcc: evil@example.org'"


@pytest.mark.parametrize("class_name, options, reason", [
    ("ObjectMailSender", {"objectClass": "Experimenter", "action": "MODIFY", "recipients": "user:root"},
     "unknown action 'MODIFY'"),
    ("ObjectMailSender", {"objectClass": "CommentAnnotation", "action": "UPDATE", "recipients": "image-owner"},
     "only for CommentAnnotation, on INSERT"),
    ("ObjectMailSender", {"objectClass": "Spaceship", "recipients": "user:root"}, "unknown objectClass"),
    ("ObjectMailSender", {"objectClass": "Experimenter", "recipients": "image-owner"}, "only for CommentAnnotation"),
    ("ObjectMailSender", {"objectClass": "Experimenter"}, "needs a queryString"),
    ("ObjectMailSender", {"objectClass": "Experimenter", "recipients": "everyone"}, "unknown recipient"),
    ("ObjectMailSender", {"objectClass": "Experimenter", "queryString": "select e from Experimenter e"},
     "not one omero-mail knows"),
    ("FailedLoginMailSender", {"contactSystem": "yes please"}, "expected true or false"),
    ("FailedLoginMailSender", {"objectClass": "Experimenter"}, "has no property 'objectClass'"),
    ("ServerUpMailSender", {"subject": "up at ${user}"}, "unknown field(s) ${user}"),
    ("NewsletterMailSender", {}, "unknown sender class"),
    ("org.example.ServerUpMailSender", {}, "unknown sender class"),
])
def test_a_sender_that_cannot_be_mapped_is_refused_with_the_reason(class_name, options, reason):
    with pytest.raises(ValueError) as caught:
        make_sender(class_name, "x", options)
    assert reason in str(caught.value)
