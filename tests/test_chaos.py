"""The chaos run's short form: about three minutes of "every message settles, whatever comes".

The whole system on a 3-node RabbitMQ cluster of its own, in production mode, under a
seeded schedule of faults (README, "Chaos run"); the checker then judges the history.
``make chaos`` is the long form (15 minutes of faults), ``python -m tests.chaos --seed N``
any seed. ``OMERO_MAIL_CHAOS_SEED`` picks this test's seed. Under CI a missing
``rabbitmq-server`` or PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import os

import pytest

from tests.chaos.checker import check
from tests.chaos.history import Expected, History, Hostile, Transaction
from tests.chaos.hostile import KINDS
from tests.chaos.report import report
from tests.chaos.run import run
from tests.chaos.schedule import build
from tests.rabbitmq_nodes import scripts_dir
from tests.services import find_postgres_dsn, unavailable

SEED = int(os.environ.get("OMERO_MAIL_CHAOS_SEED", "20261207"))
#: Of faults; with the site's start, the quiet periods and the replay, about three minutes in all.
MINUTES = 1.25

@pytest.mark.slow
def test_every_message_settles_whatever_comes(tmp_path):
    if scripts_dir() is None:
        unavailable("rabbitmq-server (for the chaos run's own cluster)")
    if find_postgres_dsn() is None:
        unavailable("PostgreSQL")
    result = run(SEED, MINUTES, tmp_path / "chaos")
    lines: list[str] = []
    report(result, out=lines.append)
    print("\n".join(lines))
    if not result.verdict.ok:
        broken = [f"[{v.invariant}] {v.detail}" for v in result.verdict.violations]
        pytest.fail(f"seed {SEED}: {dict(result.verdict.broken)}\n" + "\n".join(broken), pytrace=False)


# -- the checker and the schedule, on histories written by hand ------------------------------

ADMIN = "root@chaos.example"
NEW_USER = "[OMERO] INSERT Experimenter notification"
LOGIN = "[OMERO] Login failed for 'root'"


def history_of(expected: list[Expected], kept: list[tuple[str, str, str]]) -> History:
    """A history whose SMTP server kept each (Message-ID, subject, body key) once, in order, for ADMIN."""
    history = History(seed=1, minutes=1)
    history.expected = expected
    history.transactions = [Transaction(100.0 + n, "omero@chaos.example", [ADMIN], mid, subject, key, "250 OK", True)
                            for n, (mid, subject, key) in enumerate(kept)]
    history.queues = {"omero.mail.events": (0, 0), "omero.mail.outbox": (0, 0)}
    return history


def new_user(number: int, message_id: str = "") -> Expected:
    return Expected(10.0, "newUserMailSender", ADMIN, NEW_USER, f"class ome.model.meta.Experimenter:{number} - INSERT",
                    message_id, f"user {number}")


def broken(history: History) -> dict[str, int]:
    return dict(check(history).broken)


def test_a_mail_kept_twice_under_its_message_id_is_a_duplicate_not_a_broken_invariant():
    history = history_of([new_user(5, "<a@x>")], [("<a@x>", NEW_USER, new_user(5).key)] * 2)
    verdict = check(history)
    assert verdict.ok and verdict.figures.duplicates == 1


def test_a_mail_under_a_second_message_id_breaks_the_one_message_id_invariant():
    history = history_of([new_user(5, "<a@x>")], [("<a@x>", NEW_USER, new_user(5).key),
                                                   ("<b@x>", NEW_USER, new_user(5).key)])
    assert broken(history) == {"another Message-ID": 1}


def test_an_expected_mail_never_kept_is_lost_and_one_asked_for_by_nothing_is_unexpected():
    history = history_of([new_user(5, "<a@x>")], [("<c@x>", NEW_USER, new_user(6).key)])
    assert broken(history) == {"lost": 1, "unexpected": 1}


def test_a_mail_whose_derived_message_id_changed_is_matched_by_what_its_recipient_sees():
    history = history_of([new_user(5, "<a@x>")], [("<other@x>", NEW_USER, new_user(5).key)])
    verdict = check(history)
    assert verdict.ok and verdict.figures.matched_by_content == 1


def test_an_object_whose_id_a_restore_reused_needs_a_mail_per_creation():
    history = history_of([new_user(5, "<a@x>"), new_user(5, "<a@x>")], [("<a@x>", NEW_USER, new_user(5).key)] * 2)
    assert broken(history) == {"lost": 1}


def failed_logins(count: int) -> list[Expected]:
    return [Expected(10.0, "failedLoginMailSender", ADMIN, LOGIN, "", f"<l{n}@x>", "log", flood=True)
            for n in range(count)]


def test_failed_logins_mailed_alone_and_folded_into_one_digest_account_for_every_event():
    history = history_of(failed_logins(10), [(f"<l{n}@x>", LOGIN, "") for n in range(3)]
                         + [("<d1@x>", f"{LOGIN} (7 more)", "")])
    verdict = check(history)
    assert verdict.ok and verdict.figures.digests == 1


def test_a_digest_sent_under_two_message_ids_counts_its_events_twice():
    history = history_of(failed_logins(10), [(f"<l{n}@x>", LOGIN, "") for n in range(3)]
                         + [("<d1@x>", f"{LOGIN} (7 more)", ""), ("<d2@x>", f"{LOGIN} (7 more)", "")])
    assert broken(history) == {"flood": 1}


def test_failed_logins_in_no_mail_and_no_digest_are_lost():
    history = history_of(failed_logins(10), [(f"<l{n}@x>", LOGIN, "") for n in range(3)]
                         + [("<d1@x>", f"{LOGIN} (5 more)", "")])
    assert broken(history) == {"lost": 1}


def test_a_hostile_message_mailed_breaks_refused_sent_and_one_dropped_silently_breaks_hostile():
    history = history_of([], [("<h@x>", "CHAOS-HOSTILE chaos-hostile-1. forged outbox message", "")])
    history.hostile = [Hostile(5.0, "forged-outbox", "guest", "<h@x>", "failed", "chaos-hostile-1.", "published"),
                       Hostile(6.0, "surrogate-web-error", "omero-mail-web", "e2", "invalid", "chaos-hostile-2.",
                               "published")]
    assert broken(history) == {"refused sent": 1, "hostile": 1}


def test_work_left_in_a_queue_or_unacknowledged_breaks_the_queues_invariant():
    history = history_of([], [])
    history.queues = {"omero.mail.events": (1, 1), "omero.mail.retry.5s": (2, 0), "omero.mail.rules.state": (9, 0)}
    assert broken(history) == {"queues": 3}


def test_a_seed_draws_the_same_schedule_again_with_every_kind_of_fault_in_it():
    first, again = build(7, 75, KINDS), build(7, 75, KINDS)
    assert first == again and first != build(8, 75, KINDS)
    kinds = {step.kind for step in first} | {step.target for step in first if step.kind == "hostile"}
    assert {"kill", "stop", "close-connection", "proxy-cut", "smtp-4xx", "smtp-5xx", "smtp-hang", "smtp-drop",
            "db-backup", "db-restore", "log-roll", "log-roll-stopped", *KINDS} <= kinds
    assert kinds & {"node-stop", "node-kill"}
