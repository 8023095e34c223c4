"""Each folded flood event leaves one INFO line with its window's count so far."""

from __future__ import annotations

import logging

from consumer.memory.flood import FloodControl
from events.config import Properties
from events.schemas import new_event
from events.settings import flood_settings
from senders.flood import FloodGuard, rules_from_settings
from senders.mail import Mail
from senders.plan import Plan


def plan_for(event) -> Plan:
    return Plan(mails=[Mail(message_id=f"<{event.id}@example.org>", event_id=event.id, event_type=event.type,
                            sender="failedLoginMailSender", mail_from="omero@example.org", to="root@example.org",
                            subject="Login failed", text="")])


class KeptDigests:
    """Where the control's digest goes (this test is about log lines, not the broker)."""

    def __init__(self) -> None:
        self.messages: list = []

    def publish_many(self, messages) -> None:
        self.messages.extend(messages)

    def close(self) -> None:
        pass


def test_each_folded_event_is_one_info_line_with_the_windows_count_so_far(caplog):
    rules = rules_from_settings(flood_settings(Properties({"omero.mail.flood.threshold": "1"})))
    control = FloodControl(FloodGuard(rules), publisher=KeptDigests, outbox_message=lambda mail: mail)
    events = [new_event("login.failed", {"user": "root", "remote_addr": "192.0.2.7"}) for _ in range(3)]
    with caplog.at_level(logging.INFO, logger="consumer.memory.flood"):
        folded = [control.fold(event, plan_for(event)) for event in events]
    control.close()  # its digest timer would otherwise fire in a later test
    assert folded == [False, True, True]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"event {events[1].id} login.failed folded into a digest (user=root): 1 folded in this window so far",
        f"event {events[2].id} login.failed folded into a digest (user=root): 2 folded in this window so far",
    ]
