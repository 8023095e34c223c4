"""Queueing a broadcast without a broker: the request a form makes, OMERO's checks and lines, whom it names."""

from __future__ import annotations

import pytest
from django.utils.datastructures import MultiValueDict

from consumer.admin import broadcasting
from consumer.admin.web.access import Admin
from consumer.admin.web.views.compose import request_from
from events.config import Properties
from events.session_proof import FIELD, event_proof, session_proof
from senders.broadcast import IGNORED, BroadcastRefused
from senders.directory import Experimenter, Group, MemoryDirectory

ROOT = Admin("root", "amqp://guest:guest@localhost/")
PROOF = session_proof("3b9a4f0e-5c1d-4e8a-9a55-0f6f1b2c3d4e")
PEOPLE = MemoryDirectory([
    Experimenter(0, "root", email="root@example.org", groups=frozenset({"system", "user"})),
    Experimenter(2, "alice", email="alice@example.org", groups=frozenset({"system", "user"})),
    Experimenter(4, "carol", email="carol@example.org", groups=frozenset({"user", "lab"})),
], [Group(0, "system"), Group(1, "user"), Group(3, "lab")])


def form(**fields) -> MultiValueDict:
    return MultiValueDict({k: v if isinstance(v, list) else [v] for k, v in fields.items()})


def props(**values) -> Properties:
    return Properties({"omero.mail.from": "omero@example.org", **{k.replace("__", "."): v for k, v in values.items()}})


def test_the_requester_is_the_admin_whatever_the_form_says():
    request, _ = request_from(form(requested_by="alice", as_user="alice", omero_session="forged", everyone="on"), ROOT)
    assert request.requested_by == "root" and request.session_proof is None


def test_inside_omero_web_the_session_proof_is_the_admins():
    request, _ = request_from(form(everyone="on"), Admin("root", "amqp://web@localhost/", session_proof=PROOF))
    assert request.session_proof == PROOF


def test_cc_and_bcc_take_addresses_separated_by_commas_semicolons_or_lines():
    request, errors = request_from(form(cc="a@example.org, b@example.org;c@example.org", bcc="d@example.org\r\n"),
                                   ROOT)
    assert errors == []
    assert request.cc == ["a@example.org", "b@example.org", "c@example.org"] and request.bcc == ["d@example.org"]


def test_each_bad_cc_or_bcc_address_is_a_line_as_the_command_says_it():
    _, errors = request_from(form(cc="a@example.org, nope", bcc="x@"), ROOT)
    assert errors == ["Cc: not an email address: 'nope'", "Bcc: not an email address: 'x@'"]


def test_the_forms_users_and_groups_are_ids_as_given_and_its_boxes_are_ticked_with_on():
    request, _ = request_from(form(experimenters=["2", "x"], groups=["3"], inactive="on", html="on",
                                   message="a\r\nb"), ROOT)
    assert (request.user_ids, request.group_ids, request.inactive, request.html, request.everyone) == (
        ["2", "x"], ["3"], True, True, False)
    assert request.body == "a\nb"


def broadcast(**fields) -> broadcasting.Request:
    return broadcasting.Request(**{"subject": "S", "body": "B", "requested_by": "root", **fields})


def test_unknown_users_and_groups_are_omeros_lines_in_omeros_order():
    found = broadcasting.named(broadcast(user_names=["nobody", "alice"], user_ids=["x", "99", "4"],
                                         group_names=["ghosts"], group_ids=["3", "y"]), PEOPLE)
    assert found.lines == ["Unknown user: nobody", "Not a valid user ID: x", "Unknown user: 99",
                           "Unknown group: ghosts", "Not a valid group ID: y"]
    assert found.known == {"user_names": ["alice"], "user_ids": [4], "group_names": [], "group_ids": [3]}


def test_everyone_with_users_ends_with_omeros_warning():
    assert broadcasting.named(broadcast(everyone=True, user_ids=["2"]), PEOPLE).lines == [IGNORED]


def check(request: broadcasting.Request, acting_user: str | None = "root", **values) -> broadcasting.Ready:
    return broadcasting.check(request, broadcasting.named(request, PEOPLE), props(**values), PEOPLE, acting_user)


def test_a_broadcast_from_inside_omero_web_carries_the_session_proof_tied_to_the_event():
    event = broadcasting.event_of(check(broadcast(everyone=True, session_proof=PROOF), None), props())
    assert event.data[FIELD] == event_proof(PROOF, event)


def test_a_broadcast_without_a_session_proof_carries_none():
    assert FIELD not in broadcasting.event_of(check(broadcast(everyone=True)), props()).data


def test_the_body_is_read_only_once_the_request_passed_the_checks_that_need_none():
    def never() -> str:
        raise AssertionError("the body was read")

    with pytest.raises(BroadcastRefused, match="No recipients"):
        check(broadcast(body=never))


def test_with_publishers_checked_a_broker_user_may_not_broadcast_as_another_admin():
    checked = {"omero__mail__broker__check-publishers": "true"}
    with pytest.raises(BroadcastRefused, match="broker user 'alice' may not broadcast as 'root'"):
        check(broadcast(everyone=True), "alice", **checked)
    assert check(broadcast(everyone=True), "root", **checked).data["requested_by"] == "root"
    # Inside OMERO.web the OMERO session's digest stands for the admin: the rules stage checks it.
    assert check(broadcast(everyone=True, session_proof=PROOF), None, **checked).data["requested_by"] == "root"


def test_an_html_body_gets_a_plain_text_part():
    data = check(broadcast(everyone=True, body="<p>Down at <b>noon</b></p>", html=True)).data
    assert (data["body"], data["html"]) == ("Down at noon\n", "<p>Down at <b>noon</b></p>")


@pytest.mark.parametrize("fields, lines", [
    ({}, ["ApiUsageException:No recipients specified."]),
    ({"everyone": True, "body": " "}, ["ApiUsageException:Email must contain body."]),
    ({"everyone": True, "requested_by": "carol"},
     ["Failed to send emails:", "ApiUsageException:You have no permissions to send email. "
                                "('carol' is not a member of system: only admins may broadcast)"]),
    ({"everyone": True, "mail_from": "boss@example.org"},
     ["Failed to send emails:", "--from 'boss@example.org' is not allowed (omero.mail.broadcast.from lists the "
                                "allowed addresses)"]),
], ids=["no-recipients", "no-body", "not-an-admin", "from-not-allowed"])
def test_a_refusal_is_told_in_omeros_lines(fields, lines):
    with pytest.raises(BroadcastRefused) as refused:
        check(broadcast(**fields))
    assert broadcasting.refusal(refused.value)[1] == lines


@pytest.mark.parametrize("data, described", [
    ({"everyone": True}, "everyone"),
    ({"everyone": True, "inactive": True}, "everyone; inactive users too"),
    ({"user_names": ["alice"], "user_ids": [4, 2]}, "users alice (#2), carol (#4)"),
    ({"group_ids": [3], "user_ids": [4]}, "users carol (#4); groups lab (#3)"),
])
def test_the_recipients_in_a_few_words(data, described):
    assert broadcasting.describe_recipients(data, PEOPLE) == described


def test_many_recipients_are_named_up_to_ten_then_counted():
    many = MemoryDirectory([Experimenter(n, f"u{n:02}") for n in range(25)], [])
    assert broadcasting.describe_recipients({"user_ids": list(range(25))}, many) == (
        "users " + ", ".join(f"u{n:02} (#{n})" for n in range(10)) + " and 15 more")


def test_an_uncertain_publish_says_how_to_queue_it_again_under_its_id():
    uncertain = broadcasting.Uncertain("1234", "no confirm within 10s")
    assert uncertain.advice("Sending this form again") == (
        "broadcast 1234 may not be queued, or may still be delivered: no confirm within 10s. Sending this form "
        "again queues it again under the same ID, so nobody gets an email twice")
