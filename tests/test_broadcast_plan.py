"""Whom an admin broadcast reaches and which emails it makes: OMERO's semantics, pure."""

from __future__ import annotations

import pytest

from events.schemas import new_event
from senders.broadcast import (BCC_SENDER_ID, CC_SENDER_ID, IGNORED, BroadcastRefused, html_to_text,
                               plan_broadcast, resolve)
from senders.directory import Experimenter, Group, MemoryDirectory

GROUPS = [Group(0, "system"), Group(1, "user"), Group(2, "guest"), Group(3, "lab")]


def people() -> MemoryDirectory:
    return MemoryDirectory([
        Experimenter(0, "root", email="root@example.org", groups=frozenset({"system", "user"})),
        Experimenter(1, "guest", groups=frozenset({"guest"})),
        Experimenter(2, "alice", email="alice@example.org", groups=frozenset({"system", "user"})),
        Experimenter(3, "bob", groups=frozenset({"user"})),
        Experimenter(4, "carol", email="carol@example.org", groups=frozenset({"user", "lab"})),
        Experimenter(5, "dave", email="dave@example.org", groups=frozenset({"lab"})),
        Experimenter(6, "erin", email="erin@", groups=frozenset({"user", "lab"})),
        Experimenter(7, "frank", email="CAROL@example.org", groups=frozenset({"user", "lab"})),
    ], GROUPS)


def broadcast(**data):
    data = {"subject": "Maintenance", "body": "Down at noon.", "requested_by": "root", **data}
    return new_event("admin.broadcast", data)


def plan(**data):
    return plan_broadcast(broadcast(**data), people(), "omero@example.org")


def names(recipients):
    return [e.omename for e in recipients.experimenters]


def test_everyone_means_every_active_user():
    assert names(resolve({"everyone": True}, people())) == ["root", "alice", "bob", "carol", "erin", "frank"]


def test_everyone_with_inactive_means_every_user():
    assert "dave" in names(resolve({"everyone": True, "inactive": True}, people()))


def test_everyone_ignores_users_and_groups_with_omeros_warning():
    recipients = resolve({"everyone": True, "user_names": ["dave"]}, people())
    assert recipients.warnings == [IGNORED] and "dave" not in names(recipients)


def test_a_group_means_its_active_members():
    assert names(resolve({"group_names": ["lab"]}, people())) == ["carol", "erin", "frank"]


def test_a_group_by_id_with_inactive_includes_inactive_members():
    assert names(resolve({"group_ids": [3], "inactive": True}, people())) == ["carol", "dave", "erin", "frank"]


def test_users_by_name_and_id_are_each_reached_once():
    assert names(resolve({"user_names": ["alice", "carol"], "user_ids": [4]}, people())) == ["alice", "carol"]


def test_unknown_users_and_groups_get_an_error_line_each_and_the_rest_is_kept():
    recipients = resolve({"user_names": ["alice", "nobody"], "user_ids": [99], "group_names": ["ghosts"]}, people())
    assert recipients.errors == ["Unknown user: nobody", "Unknown user: 99", "Unknown group: ghosts"]
    assert names(recipients) == ["alice"]


def test_users_without_email_and_with_invalid_email_are_counted_together_not_mailed():
    """SendEmailRequestI.parseRecipients: null email or !validateEmail -> rsp.invalidusers."""
    result = plan(everyone=True)
    assert [m.to for m in result.mails] == ["root@example.org", "alice@example.org", "carol@example.org",
                                            "CAROL@example.org"]
    assert (result.no_email, result.invalid) == (2, 0)


def test_only_exactly_equal_addresses_are_one():
    """SendEmailRequestI.parseRecipients keeps addresses in a HashSet<String>: case counts."""
    assert [m.to for m in plan(group_names=["lab"]).mails] == ["carol@example.org", "CAROL@example.org"]
    assert [m.to for m in plan(user_names=["carol", "carol"]).mails] == ["carol@example.org"]


def test_two_addresses_differing_in_case_get_two_message_ids():
    first, second = plan(group_names=["lab"]).mails
    assert first.message_id != second.message_id


def test_invalid_cc_and_bcc_addresses_are_the_invalid_emails():
    """SendEmailRequestI.parseExtraRecipients: an extra address failing validateEmail -> rsp.invalidemails."""
    result = plan(user_names=["alice"], cc=["x@example.org", "not an address"], bcc=["y@"])
    assert (result.no_email, result.invalid) == (0, 2)


def test_an_address_with_a_display_name_is_mailed_as_omero_mails_it():
    """MailUtil.validateEmail: new InternetAddress(email).validate() accepts "Name <addr>"."""
    directory = MemoryDirectory([
        Experimenter(0, "root", email="root@example.org", groups=frozenset({"system", "user"})),
        Experimenter(2, "alice", email="Alice Admin <alice@example.org>", groups=frozenset({"user"})),
    ], GROUPS)
    result = plan_broadcast(broadcast(user_names=["alice"]), directory, "omero@example.org")
    assert [m.to for m in result.mails] == ["Alice Admin <alice@example.org>"] and result.no_email == 0
    assert result.mails[0].recipients == ["alice@example.org"]


def test_cc_addresses_share_one_copy_and_users_mails_carry_no_cc():
    result = plan(user_names=["alice"], cc=["x@example.org", "y@example.org"])
    alice, copy = result.mails
    assert alice.cc == () and alice.bcc == ()
    assert (copy.sender, copy.to, copy.cc) == (CC_SENDER_ID, "x@example.org", ("y@example.org",))


def test_each_bcc_address_gets_its_own_copy_named_nowhere_else():
    result = plan(user_names=["alice"], cc=["x@example.org"], bcc=["z@example.org", "w@example.org"])
    copies = [m for m in result.mails if m.sender == BCC_SENDER_ID]
    assert [m.to for m in copies] == ["z@example.org", "w@example.org"]
    others = [m for m in result.mails if m.sender != BCC_SENDER_ID]
    assert all("z@example.org" not in (m.to, *m.cc, *m.bcc) for m in others)


def test_html_is_kept_beside_the_text():
    result = plan(user_names=["alice"], body="Down", html="<p>Down</p>")
    assert (result.mails[0].text, result.mails[0].html) == ("Down", "<p>Down</p>")


def test_a_non_admin_is_refused():
    with pytest.raises(BroadcastRefused, match="not a member of system"):
        plan(everyone=True, requested_by="carol")


def test_a_broadcast_without_requester_is_refused():
    with pytest.raises(BroadcastRefused, match="only admins"):
        plan_broadcast(new_event("admin.broadcast", {"subject": "s", "body": "b", "everyone": True}),
                       people(), "omero@example.org")


def test_an_empty_subject_is_refused():
    with pytest.raises(BroadcastRefused, match="subject is empty"):
        plan(everyone=True, subject="  ")


def test_an_empty_body_is_refused():
    with pytest.raises(BroadcastRefused, match="body is empty"):
        plan(everyone=True, body="")


def test_an_empty_from_is_refused():
    with pytest.raises(BroadcastRefused, match="omero.mail.from is empty"):
        plan_broadcast(broadcast(everyone=True), people(), "")


def test_a_from_override_must_be_listed():
    with pytest.raises(BroadcastRefused, match="not allowed"):
        plan(everyone=True, mail_from="boss@example.org")


def test_a_listed_from_override_is_used():
    result = plan_broadcast(broadcast(everyone=True, mail_from="news@example.org"), people(), "omero@example.org",
                            ["news@example.org"])
    assert {m.mail_from for m in result.mails} == {"news@example.org"}


def test_ten_thousand_users_make_ten_thousand_mails_with_distinct_message_ids():
    users = [Experimenter(i, f"u{i}", email=f"u{i}@example.org", groups=frozenset({"user"}))
             for i in range(1, 10_001)]
    directory = MemoryDirectory([Experimenter(0, "root", groups=frozenset({"system"})), *users], GROUPS)
    result = plan_broadcast(broadcast(everyone=True), directory, "omero@example.org")
    assert len(result.mails) == 10_000
    assert len({m.message_id for m in result.mails}) == 10_000


def test_html_to_text_keeps_blocks_on_their_own_lines():
    html = "<h1>Down</h1><p>At <b>noon</b>&amp; after</p><script>x()</script>"
    assert html_to_text(html) == "Down\n\nAt noon& after\n"


def test_a_message_larger_than_the_limit_is_refused_with_its_size_and_the_property():
    with pytest.raises(BroadcastRefused, match=r"the message is 2,001 bytes, and omero.mail.broadcast.max-bytes "
                                               r"allows 2,000"):
        plan_broadcast(broadcast(body="x" * 1001, html="y" * 1000), people(), "omero@example.org", max_bytes=2000)


def test_a_message_at_the_limit_is_planned():
    assert plan_broadcast(broadcast(body="x" * 1000, html="y" * 1000, everyone=True), people(), "omero@example.org",
                          max_bytes=2000).mails


def test_a_limit_of_zero_is_no_limit():
    assert plan_broadcast(broadcast(body="x" * 2_000_000, everyone=True), people(), "omero@example.org",
                          max_bytes=0).mails
