"""Sender files: our format and OMERO's Spring file give the same rules; bad files are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from senders.xmlconfig import SenderConfigError, load_file, load_senders

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "etc" / "mail-senders.example"
#: OMERO's own etc/blitz/mail-senders.example, byte for byte.
SPRING = ROOT / "senders" / "data" / "omero-mail-senders.example"
PROPS = {"omero.mail.config": "true", "omero.mail.host": "smtp.example.org"}


def rules(senders):
    return {s.id: (type(s).__name__, s.event_types, s.describe_recipients(), s.describe_subject(),
                   s.body_template(), s.enabled, getattr(s, "object_class", None)) for s in senders}


def write(tmp_path: Path, text: str, name: str = "senders.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def spring(beans: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<beans xmlns="http://www.springframework.org/schema/beans">\n'
            '  <bean id="abstractMailSender" abstract="true">\n'
            '    <property name="enabled" value="${omero.mail.config}"/>\n'
            '    <property name="executor" ref="executor"/>\n'
            '  </bean>\n' + beans + "\n</beans>\n")


def refusal(path: Path) -> SenderConfigError:
    with pytest.raises(SenderConfigError) as caught:
        load_file(path, PROPS)
    return caught.value


def test_our_example_ships_omeros_six_senders():
    assert sorted(s.id for s in load_file(OURS, PROPS)) == sorted([
        "serverUpMailSender", "serverDownMailSender", "failedLoginMailSender",
        "newUserMailSender", "newGroupMailSender", "newCommentMailSender"])


def test_omeros_spring_file_unchanged_gives_the_same_rules_as_our_example(tmp_path):
    copy = tmp_path / "mail-senders.xml"
    shutil.copy(SPRING, copy)
    assert rules(load_file(copy, PROPS)) == rules(load_file(OURS, PROPS))


def test_the_spring_failed_login_sender_keeps_omeros_options(tmp_path):
    copy = tmp_path / "mail-senders.xml"
    shutil.copy(SPRING, copy)
    sender = {s.id: s for s in load_file(copy, PROPS)}["failedLoginMailSender"]
    assert (sender.contact_system, sender.contact_user, sender.on_specific_users) == (True, False, frozenset({"root"}))


def test_both_formats_combine_in_one_directory(tmp_path):
    write(tmp_path, spring('<bean id="up" parent="abstractMailSender" class="ome.services.mail.ServerUpMailSender"/>'),
          "omero.xml")
    write(tmp_path, '<mail-senders><sender id="down" class="ServerDownMailSender"/></mail-senders>', "ours.xml")
    write(tmp_path, '<mail-senders><sender id="off" class="ServerDownMailSender"/></mail-senders>', "ours.example")
    assert [s.id for s in load_senders(tmp_path, properties=PROPS)] == ["up", "down"]


def test_a_bean_inherits_its_parents_properties_and_overrides_them(tmp_path):
    path = write(tmp_path, spring(
        '<bean id="lab" abstract="true" parent="abstractMailSender"><property name="subjectPrefix" value="[Lab] "/>'
        '<property name="defaultBody" value="Hi.\n"/></bean>\n'
        '<bean id="up" parent="lab" class="ome.services.mail.ServerUpMailSender">'
        '<property name="defaultBody"><value>Up.\n</value></property></bean>'))
    [sender] = load_file(path, PROPS)
    assert (sender.subject_prefix, sender.default_body) == ("[Lab] ", "Up.\n")


def test_the_inner_mail_sender_beans_properties_apply_to_server_up(tmp_path):
    path = write(tmp_path, spring(
        '<bean id="up" class="ome.services.mail.ServerUpMailSender"><constructor-arg>'
        '<bean class="ome.services.mail.MailSender" parent="abstractMailSender">'
        '<property name="subjectPrefix" value="[Lab] "/></bean></constructor-arg></bean>'))
    [sender] = load_file(path, PROPS)
    assert sender.describe_subject() == "[Lab] Server started"


def test_an_omero_property_placeholder_is_resolved_when_loading(tmp_path):
    path = write(tmp_path, spring(
        '<bean id="up" parent="abstractMailSender" class="ome.services.mail.ServerUpMailSender">'
        '<property name="subjectPrefix" value="[${omero.mail.host}] "/></bean>'))
    [sender] = load_file(path, PROPS)
    assert sender.subject_prefix == "[smtp.example.org] "


def test_enabled_false_switches_a_sender_off(tmp_path):
    path = write(tmp_path, '<mail-senders><sender id="up" class="ServerUpMailSender">'
                           '<property name="enabled" value="false"/></sender></mail-senders>')
    [sender] = load_file(path, PROPS)
    assert sender.enabled is False


@pytest.mark.parametrize("bean, reason", [
    ('<bean id="x" parent="abstractMailSender" class="ome.services.mail.ObjectMailSender">\n'
     '<property name="objectClass" value="ome.model.core.Image"/>\n'
     '<property name="queryString" value="select e from Experimenter e where e.omeName = \'bob\'"/></bean>',
     "is not one omero-mail knows"),
    ('<bean id="x" parent="abstractMailSender" class="ome.services.mail.ServerUpMailSender">\n'
     '<property name="subjectPrefix" ref="somethingElse"/></bean>', "refers to another bean"),
    ('<bean id="x" parent="abstractMailSender" class="ome.services.mail.ServerUpMailSender">\n'
     '<property name="subjectPrefix" value="${omero.no.such}"/></bean>', "unknown property ${omero.no.such}"),
    ('<bean id="x" parent="nowhere" class="ome.services.mail.ServerUpMailSender"/>', "parent bean 'nowhere'"),
    ('<bean id="x" class="ome.services.mail.FailedLoginMailSender"><constructor-arg>'
     '<bean class="ome.services.mail.MailSender"/></constructor-arg></bean>', "takes no constructor-arg"),
    ('<bean id="x" class="ome.services.mail.ServerUpMailSender"><constructor-arg>\n'
     '<bean class="ome.services.mail.ObjectMailSender"/></constructor-arg></bean>',
     "must be a ome.services.mail.MailSender"),
    ('<bean id="x" class="org.example.Mailer"/>', "unknown sender class 'org.example.Mailer'"),
    ('<bean id="x" parent="abstractMailSender"/>', "needs a class"),
    ('<bean id="x" class="ome.services.mail.ServerUpMailSender"><lookup-method name="y"/></bean>',
     "unknown element <lookup-method>"),
    ('<import resource="other.xml"/>', "unknown element <import>"),
])
def test_a_spring_bean_that_cannot_be_mapped_is_refused_with_file_line_bean_and_reason(tmp_path, bean, reason):
    path = write(tmp_path, spring(bean))
    error = refusal(path)
    assert reason in str(error)
    assert str(error).startswith(f"{path}:") and error.line is not None and error.line > 5


def test_a_refused_spring_bean_is_named(tmp_path):
    error = refusal(write(tmp_path, spring('<bean id="weird" class="org.example.Mailer"/>')))
    assert error.bean == "weird" and "sender 'weird'" in str(error)


@pytest.mark.parametrize("text, line, reason", [
    ('<mail-senders>\n<sender id="up" class="ServerUpMailSender">\n</mail-senders>\n', 3, "malformed XML"),
    ('<mail-senders>\n<bean id="up"/>\n</mail-senders>\n', 2, "unknown element <bean>"),
    ('<mail-senders>\n<sender id="up" class="ServerUpMailSender">\n<option name="x"/></sender>\n</mail-senders>', 3,
     "unknown element <option>"),
    ('<mail-senders>\n<sender id="up" class="ServerUpSender"/>\n</mail-senders>', 2, "unknown sender class"),
    ('<mail-senders>\n\n<sender class="ServerUpMailSender"/>\n</mail-senders>', 3, "needs an id"),
    ('<senders/>', 1, "unknown root element <senders>"),
    ('<mail-senders>\n<sender id="up" class="ServerUpMailSender">\n<property name="subjectPrefix" ref="x"/>'
     '</sender>\n</mail-senders>', 3, "ref= has no meaning"),
])
def test_a_broken_file_of_ours_is_refused_with_file_line_and_reason(tmp_path, text, line, reason):
    path = write(tmp_path, text)
    error = refusal(path)
    assert (error.path, error.line) == (str(path), line) and reason in error.reason


HOSTILE = {
    "external entity (XXE)": '<?xml version="1.0"?>\n<!DOCTYPE m [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
                             '<mail-senders><sender id="&x;" class="ServerUpMailSender"/></mail-senders>',
    "billion laughs": '<?xml version="1.0"?>\n<!DOCTYPE m [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;">\n'
                      ']>\n<mail-senders><sender id="&b;" class="ServerUpMailSender"/></mail-senders>',
    "internal entity declaration": '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY up "ServerUpMailSender">]>\n'
                                   '<mail-senders><sender id="u" class="&up;"/></mail-senders>',
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xml_is_refused_naming_the_file(tmp_path, kind):
    path = write(tmp_path, HOSTILE[kind])
    error = refusal(path)
    assert str(error).startswith(str(path)) and "entity declarations" in error.reason and error.line


def test_a_sender_id_defined_in_two_files_is_refused(tmp_path):
    write(tmp_path, '<mail-senders><sender id="up" class="ServerUpMailSender"/></mail-senders>', "a.xml")
    write(tmp_path, '<mail-senders><sender id="up" class="ServerDownMailSender"/></mail-senders>', "b.xml")
    with pytest.raises(SenderConfigError, match="defined again"):
        load_senders(tmp_path, properties=PROPS)


def test_an_unknown_template_field_is_refused_when_loading(tmp_path):
    path = write(tmp_path, '<mail-senders>\n<sender id="up" class="ServerUpMailSender">\n'
                           '<property name="subject" value="up for ${user}"/></sender>\n</mail-senders>')
    error = refusal(path)
    assert error.line == 2 and "${user}" in error.reason
