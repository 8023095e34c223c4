"""Templates (senders/templates.py) cannot read files, import modules or reach object internals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.schemas import new_event
from senders.templates import event_fields, render
from senders.xmlconfig import SenderConfigError, load_senders

FIELDS = {"user": "root", "remote_addr": "192.0.2.7"}


@pytest.mark.parametrize("template", [
    "${user.__class__}", "${user.__class__.__mro__[1].__subclasses__()}", "${user[0]}", "${user!r}",
    "${user:>10}", "{user.__class__}", "{0.__globals__}", "{{ config }}", "{% import os %}",
    "${__import__('os').system('id')}", "$(cat /etc/passwd)", "`id`", "%(user)s", "#{user}",
])
def test_anything_but_a_plain_field_name_is_left_as_written(template):
    assert render(template, FIELDS) == template


@pytest.mark.parametrize("name", ["__class__", "__dict__", "__builtins__", "__import__", "open", "globals", "os"])
def test_a_field_named_like_a_python_internal_is_an_empty_string(name):
    assert render("[${" + name + "}]", FIELDS) == "[]"


def test_a_value_that_looks_like_a_template_is_not_expanded_again():
    fields = {"user": "${remote_addr} {user.__class__} ${__import__}", "remote_addr": "192.0.2.7"}
    assert render("${user}", fields) == "${remote_addr} {user.__class__} ${__import__}"


def test_an_event_field_holding_an_object_is_never_rendered_as_one():
    event = new_event("login.failed", {"user": "root", "__class__": {"__init__": "x"}, "nested": [1, 2]})
    fields = event_fields(event)
    assert all(isinstance(value, str) for value in fields.values())
    assert render("${__class__}|${nested}", fields) == "|"


def test_a_file_path_in_a_template_is_only_text():
    assert render("${user} file:///etc/passwd <!--#include file=\"/etc/passwd\"-->", FIELDS) == (
        "root file:///etc/passwd <!--#include file=\"/etc/passwd\"-->")


def test_a_senders_file_whose_template_names_an_unknown_field_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "senders"
    folder.mkdir()
    path = folder / "mail-senders.xml"
    path.write_text('<mail-senders><sender id="failedLoginMailSender" class="FailedLoginMailSender">'
                    '<property name="onAllUsers" value="true"/>'
                    '<property name="subject" value="${__import__}"/></sender></mail-senders>')
    with pytest.raises(SenderConfigError, match="__import__") as error:
        load_senders(folder)
    assert str(path) in str(error.value)


@settings(max_examples=150, deadline=None)
@given(template=st.text(max_size=60), values=st.dictionaries(
    st.from_regex(r"[a-z_]{1,8}", fullmatch=True), st.text(max_size=20), max_size=4))
def test_rendering_any_text_yields_only_the_template_and_the_values(template, values):
    rendered = render(template, values)
    inputs = template + "".join(values.values())
    for leak in ("<class ", "<module ", "<built-in ", "<function ", "object at 0x"):
        assert leak not in rendered or leak in inputs
