"""One planned email as the outbox message the rules stage publishes and the delivery stage reads.

Its own module because both the rules stage and the flood digests (``consumer/memory/flood.py``)
publish outbox messages, and the delivery stage's metrics read its headers.
"""

from __future__ import annotations

from events import topology as topo
from events.broker import Message
from senders.mail import Mail

from . import outcomes

#: The event's ``occurred_at``, carried to the delivery stage for the latency metric.
OCCURRED_AT = "x-omero-mail-occurred-at"


def outbox_message(mail: Mail, occurred_at: str = "", followed: bool = False) -> Message:
    """``followed``: the event is followed by name, so the email's ``sent`` is always published."""
    headers = {outcomes.EVENT_ID: mail.event_id, outcomes.SENDER: mail.sender, outcomes.RECIPIENT: mail.to,
               outcomes.REPORT: outcomes.REPORT_ALWAYS if followed else outcomes.REPORT_IF_HEARD}
    if occurred_at:
        headers[OCCURRED_AT] = occurred_at
    return Message(
        exchange=topo.MAIL_EXCHANGE,
        routing_key=topo.OUTBOX_KEY,
        body=mail.to_json(),
        message_id=mail.message_id,
        headers=headers,
    )
