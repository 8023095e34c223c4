"""The web app's broadcasts, as pure rules: the session proof it adds, and when the rules stage trusts it.

OMERO's database is stood in for by a checker that answers as told; the query itself is in
tests/test_omero_sessions.py, the whole path on a real broker in tests/test_identities.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from consumer.access import roles
from consumer.access.trust import SessionsUnavailable, Trust, acting_for
from consumer.stages.service import Service
from events import topology as topo
from events.config import Properties
from events.schemas import load_event, new_event
from events.session_proof import FIELD, content_digest, event_proof, is_digest, session_proof, with_session_proof

KEY = "4f1c2a7e-8f5d-4a0b-9a55-3e6f0c1d2b9a"
PROOF = session_proof(KEY)
WEBAPP = "omero-mail-webapp"
CHECKED = Trust(checked=True, rules_user="rules", delivery_user="delivery", webapp_user=WEBAPP,
                acts_for=acting_for(f"{WEBAPP}:root"))


def broadcast(admin: str = "root", **data):
    return new_event("admin.broadcast", {"subject": "S", "body": "B", "everyone": True, "requested_by": admin,
                                         **data}, source="omero-web")


class Sessions:
    """A checker that finds a session only for ``(admin, key)`` pairs it was given, and records each question."""

    def __init__(self, *live: tuple[str, str]):
        self.live = live
        self.asked: list[tuple] = []

    def __call__(self, admin, proof, content, at) -> bool:
        self.asked.append((admin, proof, content, at))
        return any(admin == who and proof == sha256(f"{sha256(key)}:{content}") for who, key in self.live)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def published(event):
    """The event as the rules stage loads it from the broker."""
    return load_event(event.to_json())


def test_the_session_proof_is_the_sha256_of_the_omero_session_key():
    assert PROOF == sha256(KEY) and is_digest(PROOF)


def test_the_events_proof_is_the_sha256_of_the_session_proof_a_colon_and_the_events_digest():
    event = broadcast()
    assert event_proof(PROOF, event) == sha256(f"{PROOF}:{content_digest(event)}")


def test_the_published_event_carries_its_proof_and_neither_the_session_key_nor_its_digest():
    event = broadcast()
    body = with_session_proof(event, PROOF).to_json()
    assert json.loads(body)["data"][FIELD] == event_proof(PROOF, event)
    assert KEY.encode() not in body and PROOF.encode() not in body


def test_the_rules_stage_computes_the_same_digest_from_what_it_receives():
    event = with_session_proof(broadcast(cc=["x@example.org"], html=None), PROOF)
    assert content_digest(published(event)) == content_digest(event)


def test_a_proof_vouches_for_its_own_event_only():
    event = broadcast()
    assert event_proof(PROOF, event) != event_proof(PROOF, replace(event, data={**event.data, "body": "other"}))
    assert event_proof(PROOF, event) != event_proof(PROOF, replace(event, occurred_at=event.occurred_at
                                                                   + timedelta(seconds=1)))
    assert event_proof(PROOF, event) != event_proof(PROOF, broadcast())


def test_there_is_no_proof_without_a_session_key():
    with pytest.raises(ValueError, match="no OMERO session key"):
        session_proof("")
    with pytest.raises(ValueError, match="not a session proof"):
        with_session_proof(broadcast(), KEY)


def test_the_web_apps_broadcast_with_the_proof_of_a_live_session_of_its_admin_is_trusted():
    sessions = Sessions(("root", KEY))
    event = published(with_session_proof(broadcast("root"), PROOF))
    assert CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, sessions) is None
    assert sessions.asked == [("root", event.data[FIELD], content_digest(event), event.occurred_at)]


def test_the_web_apps_broadcast_proved_with_another_admins_session_is_refused():
    event = published(with_session_proof(broadcast("alice"), PROOF))
    refusal = CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions(("root", KEY)))
    assert refusal == (f"broker user {WEBAPP!r} (the web app, omero.mail.broker.webapp-user) may broadcast as "
                       f"'alice' only from a session of theirs live at {event.occurred_at.isoformat()}, "
                       f"and {FIELD} proves none")


def test_a_proof_copied_onto_another_broadcast_is_refused():
    proved = with_session_proof(broadcast("root"), PROOF)
    other = broadcast("root", body="Click here")
    forged = replace(other, data={**other.data, FIELD: proved.data[FIELD]})
    assert "proves none" in CHECKED.refuses_event(published(forged), "admin.broadcast", WEBAPP,
                                                  Sessions(("root", KEY)))


def test_the_session_keys_digest_alone_proves_no_broadcast():
    event = broadcast("root", omero_session=PROOF)
    assert "proves none" in CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions(("root", KEY)))


def test_the_web_apps_broadcast_without_a_proof_is_refused_without_asking_the_database():
    sessions = Sessions(("root", KEY))
    refusal = CHECKED.refuses_event(broadcast("root"), "admin.broadcast", WEBAPP, sessions)
    assert "only with the proof of their OMERO session (omero_session), and sent none" in refusal
    assert sessions.asked == []


def test_the_web_apps_broadcast_with_a_malformed_proof_is_refused():
    event = broadcast("root", omero_session=KEY)
    assert "sent none" in CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions(("root", KEY)))


def test_the_web_apps_broadcast_without_a_requester_is_refused():
    event = new_event("admin.broadcast", {"subject": "S", "body": "B", "everyone": True})
    assert "no requesting user" in CHECKED.refuses_event(event, "admin.broadcast", WEBAPP, Sessions())


def test_without_omero_s_database_the_web_apps_broadcast_is_refused_in_one_line():
    refusal = CHECKED.refuses_event(with_session_proof(broadcast("root"), PROOF), "admin.broadcast", WEBAPP, None)
    assert refusal == (f"broker user {WEBAPP!r} (the web app, omero.mail.broker.webapp-user) may broadcast as "
                       "'root' only with a session proof checked in OMERO's database, and this rules stage reads "
                       "none (omero.mail.directory.backend=postgres, omero.db.*)")


def test_a_database_that_cannot_answer_is_no_verdict():
    def down(*_args):
        raise SessionsUnavailable("cannot read OMERO's sessions")

    with pytest.raises(SessionsUnavailable):
        CHECKED.refuses_event(with_session_proof(broadcast("root"), PROOF), "admin.broadcast", WEBAPP, down)


def test_a_mapping_of_the_web_apps_user_does_not_spare_it_the_proof():
    assert "sent none" in CHECKED.refuses_event(broadcast("root"), "admin.broadcast", WEBAPP, Sessions())


def test_other_broker_users_keep_their_rules_and_the_database_is_not_asked():
    sessions = Sessions()
    assert CHECKED.refuses_event(broadcast("root"), "admin.broadcast", "root", sessions) is None
    assert "may not broadcast as 'root'" in CHECKED.refuses_event(broadcast("root"), "admin.broadcast", "alice",
                                                                   sessions)
    assert sessions.asked == []


def test_the_web_apps_other_event_types_are_judged_by_their_routing_key_as_any_other():
    event = new_event("web.error", {"status": 500, "method": "GET", "path": "/"})
    assert CHECKED.refuses_event(event, "web.error", WEBAPP, None) is None


def test_unchecked_the_web_apps_broadcast_needs_no_proof():
    assert Trust(webapp_user=WEBAPP).refuses_event(broadcast("root"), "admin.broadcast", WEBAPP, None) is None


def test_the_web_apps_broker_user_is_a_property_with_a_default():
    assert Trust.from_properties(Properties()).webapp_user == WEBAPP
    assert Trust.from_properties(Properties({"omero.mail.broker.webapp-user": "web2"})).webapp_user == "web2"


def test_the_web_apps_role_may_publish_admin_broadcasts_and_follow_them_and_nothing_on_the_parking_lots():
    grants = {g.user: g for g in roles.from_properties(topo.build(), Properties(), ["root"])}
    webapp = grants[WEBAPP]
    assert (topo.EVENTS_EXCHANGE, r"^(admin\.broadcast)$", "^$") in webapp.topics
    assert webapp.configure == roles.BROADCAST_QUEUES
    assert not any(queue in roles.pattern(webapp.read) for queue in ("failed", "invalid"))
    assert webapp.write == grants["root"].write and webapp.read == grants["root"].read


def test_a_rules_stage_without_omero_s_database_says_at_start_that_the_web_apps_broadcasts_are_refused(
        tmp_path, caplog):
    props = Properties({"omero.mail.senders.dir": str(tmp_path), "omero.mail.broker.check-publishers": "true",
                        "omero.mail.broker.url": "amqp://omero-mail-rules:x@127.0.0.1:1/%2F"})
    with caplog.at_level(logging.INFO, "consumer.stages.service"):
        service = Service(props, ("rules",))
    assert service.rules is not None and service.rules.sessions is None
    assert ("the web app's broadcasts (omero.mail.broker.webapp-user omero-mail-webapp): refused, no OMERO "
            "database to check their session proofs in") in caplog.messages
