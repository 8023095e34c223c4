"""A broadcast's tally as its page shows it, the index of recent broadcasts, and the readers a web process shares."""

from __future__ import annotations

import json
import threading
import time

import pytest

from consumer import outcomes
from consumer.admin.results import INDEX_LENGTH, Listed, Recent, Tally
from consumer.admin.web import following
from consumer.admin.web.tallies import shown

from .conftest import wait_for


def tally(*results: dict, total: int | None = None) -> Tally:
    counted = Tally()
    if total is not None:
        counted.add({"outcome": outcomes.PLANNED, "total": total, "no_email": 0, "invalid": 0})
    for result in results:
        counted.add(result)
    return counted


def sent(n: int) -> dict:
    return {"outcome": outcomes.SENT, "message_id": f"<{n}@x>", "recipient": f"u{n}@example.org", "attempts": 1}


def failed(n: int, reply: str = "550 5.1.1 No such user here", outcome: str = outcomes.FAILED) -> dict:
    return {"outcome": outcome, "message_id": f"<{n}@x>", "recipient": f"u{n}@example.org", "attempts": 2,
            "error": reply}


def test_the_tally_keeps_each_emails_recipient_and_last_smtp_reply():
    counted = tally(failed(1, "451 later", outcomes.RETRYING), failed(1, "550 gone"), sent(2))
    assert counted.recipients == {"<1@x>": "u1@example.org", "<2@x>": "u2@example.org"}
    assert counted.replies == {"<1@x>": (2, "550 gone")}


def test_an_email_replayed_after_failing_counts_once_as_sent():
    counted = tally(failed(1), sent(1), total=1)
    assert counted.done == 1 and counted.failed_only == set() and counted.finished


def test_the_page_lists_failures_first_with_their_replies_then_retries_then_sent():
    page = shown(tally(sent(1), failed(2), failed(3, "451 later", outcomes.RETRYING), total=4))
    assert [(e["recipient"], e["outcome"], e["reply"]) for e in page["emails"]] == [
        ("u2@example.org", "failed", "550 5.1.1 No such user here"),
        ("u3@example.org", "retrying", "451 later"),
        ("u1@example.org", "sent", "")]
    assert (page["state"], page["sent"], page["failed"], page["retrying"], page["waiting"]) == ("sending", 1, 1, 1, 1)


def test_a_big_broadcast_is_counted_not_listed():
    page = shown(tally(*(sent(n) for n in range(500)), total=20_000), listed=100)
    assert len(page["emails"]) == 100 and page["unlisted"] == 400 and page["waiting"] == 19_500


def test_a_broadcast_not_planned_has_no_total_yet():
    page = shown(tally())
    assert (page["state"], page["total"], page["finished"]) == ("not planned", None, False)


def test_a_refused_broadcast_is_finished_with_the_reason():
    page = shown(tally({"outcome": outcomes.INVALID, "reason": "'carol' is not a member of system"}))
    assert page["state"] == "refused" and page["finished"]
    assert page["summary"] == ["Refused, nothing sent: 'carol' is not a member of system (parked in "
                               "omero.mail.invalid)"]


def queued(event_id: str, **fields) -> bytes:
    return json.dumps({"event_id": event_id, "outcome": "queued", "at": "2026-12-06T10:00:00+00:00",
                       **fields}).encode()


def test_a_queued_outcome_from_an_older_command_is_listed_with_what_it_says():
    assert Listed.of(queued("a")) == Listed("a", at="2026-12-06T10:00:00+00:00")
    assert Listed.of(queued("b", subject="S", cc=2)) == Listed("b", "2026-12-06T10:00:00+00:00", "S", cc=2)
    assert Listed.of(b'{"event_id": "c", "outcome": "sent"}') is None
    assert Listed.of(b"not json") is None


def test_the_index_lists_each_broadcast_once_newest_first_and_keeps_the_last_thousand():
    index = Recent("amqp://guest:guest@127.0.0.1:1/")  # never started: fed by hand
    for n in range(INDEX_LENGTH + 5):
        index._on_body(queued(f"id{n}"))
    index._on_body(queued("id1004"))
    rows, total = index.newest(0, 3)
    assert total == INDEX_LENGTH and [r.event_id for r in rows] == ["id1004", "id1003", "id1002"]
    assert index.newest(INDEX_LENGTH - 1, 5)[0][0].event_id == "id5"


class Thing:
    """Something kept: counts its starts and stops."""

    def __init__(self, ok: bool = True, delay: float = 0.0):
        self.ok, self.delay = ok, delay
        self.starts = self.stops = 0
        self.error = None if ok else "RabbitMQ refused"

    def start(self, timeout: float = 10.0) -> bool:
        self.starts += 1
        time.sleep(self.delay)
        return self.ok

    def stop(self) -> None:
        self.stops += 1


def test_pages_polling_one_broadcast_at_once_share_one_reader_started_once():
    kept: following.Kept[Thing] = following.Kept(60.0)
    made: list[Thing] = []

    def make() -> Thing:
        made.append(Thing(delay=0.2))
        return made[-1]

    got: list[Thing] = []
    polls = [threading.Thread(target=lambda: got.append(kept.use("b1", make))) for _ in range(5)]
    for poll in polls:
        poll.start()
    for poll in polls:
        poll.join()
    assert len(made) == 1 and made[0].starts == 1 and got == made * 5


def test_a_reader_that_cannot_start_is_forgotten_and_says_why():
    kept: following.Kept[Thing] = following.Kept(60.0)
    refused = Thing(ok=False)
    with pytest.raises(following.Unreadable, match="RabbitMQ refused"):
        kept.use("b1", lambda: refused)
    assert refused.stops == 1 and len(kept) == 0 and kept.peek("b1") is None


def test_a_reader_whose_follower_gave_up_since_is_forgotten_and_the_next_poll_starts_afresh():
    kept: following.Kept[Thing] = following.Kept(60.0)
    first = kept.use("b1", Thing)
    first.error = "RabbitMQ refused to let this follow omero.mail.broadcast.b1"
    with pytest.raises(following.Unreadable, match="refused to let this follow"):
        kept.use("b1", Thing)
    assert first.stops == 1
    assert kept.use("b1", Thing) is not first


def test_a_reader_nobody_polls_is_stopped_after_its_idle_time():
    kept: following.Kept[Thing] = following.Kept(0.4)
    thing = kept.use("b1", Thing)
    assert kept.peek("b1") is thing
    wait_for(lambda: thing.stops == 1, 5, what="the idle reader stopped")
    assert len(kept) == 0


def test_a_reader_polled_again_lives_on():
    kept: following.Kept[Thing] = following.Kept(2.0)
    thing = kept.use("b1", Thing)
    for _ in range(15):
        time.sleep(0.2)
        assert kept.use("b1", Thing) is thing
    assert thing.stops == 0

