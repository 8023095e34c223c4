"""onSpecificUsers in OMERO's Spring syntax: filled as Spring fills OMERO's ``Set<String>`` setter."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.schemas import new_event
from senders.directory import Experimenter, Group, MemoryDirectory
from senders.plan import plan
from senders.xmlconfig import SenderConfigError, load_file

ROOT = Path(__file__).resolve().parent.parent
#: OMERO's own etc/blitz/mail-senders.example, byte for byte.
SPRING = ROOT / "senders" / "data" / "omero-mail-senders.example"
PROPS = {"omero.mail.config": "true", "omero.mail.watched": "carol"}
OMEROS_WATCH = '<property name="onSpecificUsers" value="root"/>'
DIRECTORY = MemoryDirectory([
    Experimenter(0, "root", email="root@example.org", groups=frozenset({"system", "user"})),
    Experimenter(2, "alice", email="alice@example.org", groups=frozenset({"system", "user"})),
], [Group(0, "system"), Group(1, "user")])


def omeros_file_watching(tmp_path: Path, watch: str) -> Path:
    """OMERO's own file with its failed-login sender's onSpecificUsers written another way."""
    text = SPRING.read_text()
    assert OMEROS_WATCH in text
    path = tmp_path / "mail-senders.xml"
    path.write_text(text.replace(OMEROS_WATCH, watch))
    return path


def watched(path: Path) -> frozenset[str]:
    return {s.id: s for s in load_file(path, PROPS)}["failedLoginMailSender"].on_specific_users


def refusal(tmp_path: Path, watch: str) -> SenderConfigError:
    with pytest.raises(SenderConfigError) as caught:
        load_file(omeros_file_watching(tmp_path, watch), PROPS)
    assert caught.value.bean == "failedLoginMailSender" and caught.value.line
    return caught.value


@pytest.mark.parametrize("collection", ["set", "list"])
def test_on_specific_users_as_a_collection_of_values_watches_each_user(tmp_path, collection):
    path = omeros_file_watching(tmp_path, f'<property name="onSpecificUsers"><{collection}>'
                                          f'<value>root</value><value>alice</value></{collection}></property>')
    assert watched(path) == frozenset({"root", "alice"})


def test_a_watched_user_of_a_set_gets_the_admins_mailed(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers">\n  <set>\n    <value>root</value>\n'
                                          '    <value>alice</value>\n  </set>\n</property>')
    senders = load_file(path, PROPS)
    result = plan(new_event("login.failed", {"user": "alice"}), senders, DIRECTORY, "omero@example.org")
    assert sorted(m.to for m in result.mails) == ["alice@example.org", "root@example.org"]


def test_an_empty_set_watches_nobody(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers"><set/></property>')
    assert watched(path) == frozenset()


def test_a_placeholder_in_a_set_value_is_resolved(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers"><set><value>root</value>'
                                          '<value>${omero.mail.watched}</value></set></property>')
    assert watched(path) == frozenset({"root", "carol"})


def test_a_comma_separated_value_is_one_name_as_spring_hands_it_to_omero(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers" value="root,alice"/>')
    assert watched(path) == frozenset({"root,alice"})


def test_a_comma_separated_value_watches_neither_user_as_in_omero(tmp_path):
    senders = load_file(omeros_file_watching(tmp_path, '<property name="onSpecificUsers" value="root,alice"/>'), PROPS)
    result = plan(new_event("login.failed", {"user": "root"}), senders, DIRECTORY, "omero@example.org")
    assert result.mails == []


def test_a_comma_separated_value_is_warned_about_with_file_line_and_sender(tmp_path, caplog):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers" value="root,alice"/>')
    watched(path)
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{path}:") and "'failedLoginMailSender'" in warning
    assert "is one user name, as in OMERO" in warning and "<set> of <value>s" in warning


def test_a_value_child_is_one_name_like_the_value_attribute(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers"><value>root</value></property>')
    assert watched(path) == frozenset({"root"})


def test_our_own_format_separates_names_with_commas(tmp_path):
    path = tmp_path / "ours.xml"
    path.write_text('<mail-senders><sender id="login" class="FailedLoginMailSender">'
                    '<property name="contactSystem" value="true"/>'
                    '<property name="onSpecificUsers" value="root, alice"/></sender></mail-senders>')
    [sender] = load_file(path, PROPS)
    assert sender.on_specific_users == frozenset({"root", "alice"})


@pytest.mark.parametrize("watch, reason", [
    ('<property name="onSpecificUsers"><set><ref bean="admins"/></set></property>', "a <set> of <value>s only"),
    ('<property name="onSpecificUsers"><set><null/></set></property>', "a <set> of <value>s only, not <null>"),
    ('<property name="onSpecificUsers"><set merge="true"><value>root</value></set></property>',
     "<set merge=> is not supported"),
    ('<property name="onSpecificUsers"><list value-type="java.lang.Integer"><value>0</value></list></property>',
     "value-type='java.lang.Integer'"),
    ('<property name="onSpecificUsers"><set><value>root</value></set><set/></property>', "give one <set>"),
    ('<property name="onSpecificUsers"><value>root</value><list/></property>', "give one <list>"),
    ('<property name="onSpecificUsers"><map><entry key="root" value="x"/></map></property>', "<map> is not supported"),
    ('<property name="onSpecificUsers" value="root"/><property name="subjectPrefix"><set><value>[x]</value></set>'
     '</property>', "'subjectPrefix' takes one value in OMERO, not a <set>"),
])
def test_a_collection_spring_would_not_give_a_set_of_names_is_refused(tmp_path, watch, reason):
    assert reason in refusal(tmp_path, watch).reason


def test_a_string_value_type_is_accepted(tmp_path):
    path = omeros_file_watching(tmp_path, '<property name="onSpecificUsers"><set value-type="java.lang.String">'
                                          '<value>root</value></set></property>')
    assert watched(path) == frozenset({"root"})
