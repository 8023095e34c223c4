"""The flood guard's counting (senders/flood.py): pure, with a clock the test moves."""

from __future__ import annotations

import pytest

from events.config import Properties
from events.schemas import new_event
from events.settings import flood_settings
from senders.flood import FloodGuard, FloodRule, digest_mails, rules_from_settings
from senders.mail import Mail, message_id


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def login_failed(user: str = "root", addr: str = "192.0.2.7"):
    return new_event("login.failed", {"user": user, "remote_addr": addr})


def mails_for(event, *recipients: str) -> list[Mail]:
    return [Mail(message_id=message_id(event.id, "failedLoginMailSender", to, "example.org"), event_id=event.id,
                 event_type=event.type, sender="failedLoginMailSender", mail_from="omero@example.org", to=to,
                 subject=f"[OMERO] Login failed for '{event.data['user']}'",
                 text="Automated email sent by the OMERO server.\n")
            for to in recipients or ("root@example.org",)]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def guard(clock):
    return FloodGuard({"login.failed": FloodRule(("user",), window=600, threshold=3)}, clock)


def admit(guard, event, *recipients):
    return guard.admit(event, mails_for(event, *recipients))


def test_the_first_threshold_events_of_a_key_are_mailed_and_the_rest_folded(guard):
    outcomes = [admit(guard, login_failed()) for _ in range(10)]
    assert outcomes == [True] * 3 + [False] * 7


def test_different_users_are_counted_apart(guard):
    for _ in range(3):
        admit(guard, login_failed("root"))
    assert admit(guard, login_failed("alice")) is True


def test_no_digest_is_due_before_the_window_ends(guard, clock):
    for _ in range(5):
        admit(guard, login_failed())
    clock.now += 599
    assert guard.due() == []


def test_at_window_end_one_digest_counts_the_folded_events_and_their_sources(guard, clock):
    for addr in ["192.0.2.7"] * 4 + ["198.51.100.1"] * 3:
        admit(guard, login_failed(addr=addr))
    clock.now += 600
    [window] = guard.due()
    assert (window.mailed, window.folded) == (3, 4)
    assert dict(window.sources) == {"192.0.2.7": 1, "198.51.100.1": 3}


def test_a_window_with_nothing_folded_owes_no_digest(guard, clock):
    for _ in range(3):
        admit(guard, login_failed())
    clock.now += 601
    assert guard.next_due() is None and guard.due() == []


def test_next_due_is_the_end_of_the_first_window_that_folded_something(guard, clock):
    for _ in range(4):
        admit(guard, login_failed())
    assert guard.next_due() == 1600.0


def test_after_the_window_a_new_one_mails_again(guard, clock):
    for _ in range(5):
        admit(guard, login_failed())
    clock.now += 700
    assert admit(guard, login_failed()) is True


def test_an_event_arriving_after_its_window_ended_leaves_the_old_digest_owed(guard, clock):
    for _ in range(5):
        admit(guard, login_failed())
    clock.now += 700
    admit(guard, login_failed())
    assert [w.folded for w in guard.due()] == [2]


def test_drain_hands_out_open_windows_early(guard):
    for _ in range(6):
        admit(guard, login_failed())
    assert [w.folded for w in guard.drain()] == [3]
    assert guard.drain() == []


def test_a_digest_given_back_is_due_again_after_the_retry_delay(guard, clock):
    for _ in range(4):
        admit(guard, login_failed())
    clock.now += 600
    [window] = guard.due()
    guard.give_back(window, 30)
    assert guard.due() == []
    clock.now += 30
    assert guard.due() == [window]


def test_an_event_without_mail_is_not_counted(guard):
    for _ in range(5):
        event = login_failed()
        assert guard.admit(event, []) is True
    assert admit(guard, login_failed()) is True


def test_an_unguarded_type_is_always_mailed(guard):
    event = new_event("server.startup", {})
    assert all(guard.admit(event, mails_for(login_failed())) for _ in range(10))


def test_the_digest_goes_to_each_recipient_and_names_the_count_and_sources(guard, clock):
    for n in range(8):
        admit(guard, login_failed(addr=f"192.0.2.{n}"), "root@example.org", "alice@example.org")
    clock.now += 600
    [window] = guard.due()
    mails = digest_mails(window)
    assert sorted(m.to for m in mails) == ["alice@example.org", "root@example.org"]
    assert {m.subject for m in mails} == {"[OMERO] Login failed for 'root' (5 more)"}
    body = mails[0].text
    assert "5 more login.failed event(s) with user=root" in body
    assert all(f"192.0.2.{n}: 1" in body for n in range(3, 8))


def test_a_digest_keeps_its_message_id_when_built_twice(guard, clock):
    for _ in range(5):
        admit(guard, login_failed())
    clock.now += 600
    [window] = guard.due()
    assert [m.message_id for m in digest_mails(window)] == [m.message_id for m in digest_mails(window)]
    assert digest_mails(window)[0].message_id != mails_for(login_failed())[0].message_id


def test_a_digest_lists_at_most_fifty_source_addresses_and_counts_the_rest(guard, clock):
    for n in range(63):
        admit(guard, login_failed(addr=f"10.0.0.{n}"))
    clock.now += 600
    body = digest_mails(guard.due()[0])[0].text
    assert "and 10 more addresses" in body


def test_a_web_error_storm_is_keyed_by_status_path_and_exception(clock):
    guard = FloodGuard(rules_from_settings(flood_settings(Properties())), clock)

    def web_error(path: str):
        event = new_event("web.error", {"status": 500, "method": "GET", "path": path, "exception": "KeyError"})
        return guard.admit(event, mails_for(login_failed()))

    assert [web_error("/webclient/") for _ in range(5)] == [True] * 3 + [False] * 2
    assert web_error("/webgateway/") is True


def test_properties_set_the_window_and_threshold_with_overrides_per_event_type():
    rules = rules_from_settings(flood_settings(Properties({
        "omero.mail.flood.window": "1m", "omero.mail.flood.threshold": "5",
        "omero.mail.flood.login.failed.threshold": "1",
        "omero.mail.flood.comment.added.key": "image_id",
    })))
    assert rules["login.failed"] == FloodRule(("user",), 60, 1)
    assert rules["web.error"] == FloodRule(("status", "path", "exception"), 60, 5)
    assert rules["comment.added"] == FloodRule(("image_id",), 60, 5)


def test_the_defaults_are_ten_minutes_and_three_mails():
    assert rules_from_settings(flood_settings(Properties()))["login.failed"] == FloodRule(("user",), 600, 3)


def test_a_threshold_of_zero_turns_the_guard_off_for_that_type(clock):
    rules = rules_from_settings(flood_settings(Properties({"omero.mail.flood.login.failed.threshold": "0"})))
    guard = FloodGuard(rules, clock)
    assert all(admit(guard, login_failed()) for _ in range(10))


def test_a_bad_flood_property_is_refused_with_its_name():
    with pytest.raises(ValueError, match="omero.mail.flood.threshold"):
        rules_from_settings(flood_settings(Properties({"omero.mail.flood.threshold": "many"})))
