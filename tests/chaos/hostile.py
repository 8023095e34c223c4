"""What a hostile publisher tries, and where each attempt must end.

They publish with pika directly, as an attacker would, not through omero-mail's
publisher. Every attempt is marked (``CHAOS-HOSTILE`` in a subject, ``chaos-hostile-N.`` in a
subject or a path, or an ``evil.example`` recipient) so that the checker knows its mail if
one is sent:

- ``surrogate-web-error``: the web role's user publishes a ``web.error`` with a lone UTF-16
  surrogate (``"/x\\ud800"``) in a field its mail carries (the path, the exception, the
  body; the user agent of a 404): text a mail cannot carry, so invalid data (DESIGN.md),
  parked in ``omero.mail.invalid``, and the events behind it still flow;
- ``broadcast-from-web``: the web role's user publishes an ``admin.broadcast`` under the
  routing key ``web.error`` (its topic permission allows that key): parked as refused;
- ``broadcast-as-other``: admin ``alice``'s broker user broadcasts as ``root``: parked as refused;
- ``web-to-outbox``: the web role's user publishes an outbox message: refused by RabbitMQ;
- ``forged-outbox``: a broker user with every permission on the vhost (``guest``, the
  intruder here), but not the rules stage's, publishes outbox messages: parked in
  ``omero.mail.failed``, and never mailed, not even by ``omero-mail failed replay``;
- ``spoofed-user-id``: the same intruder claims the rules stage's ``user_id``: refused by RabbitMQ;
- ``future-bridge-id``: the web role's user publishes ``web.error`` events under the ids the
  bridge gave the next eventlog rows before its ids took in the event's time (derived from
  ``omero.db.uuid``, which is no secret, and the row's id). Their own mails are tolerated;
  the bridge's events must still be mailed.
"""

from __future__ import annotations

import json
import random
import time
import uuid

import pika

from consumer.outbox import outbox_message
from events import topology as topo
from events.bridge.mapping import event_id
from events.broker.connection import addresses
from senders.mail import Mail, message_id

from .history import History, Hostile
from .omero import Omero
from .site import DOMAIN, MAIL_FROM, USERS, Site

KINDS = ("surrogate-web-error", "broadcast-from-web", "broadcast-as-other", "web-to-outbox", "forged-outbox",
         "spoofed-user-id", "future-bridge-id")
MARK = "CHAOS-HOSTILE"
#: Fields a web error's mail carries: the subject's path, the 500 report's exception or
#: Django's own body, the broken-link report's user agent.
SURROGATE_FIELDS = ("path", "exception", "body", "user_agent")


def publish(url: str, exchange: str, routing_key: str, body: bytes, msg_id: str, user_id: str,
            headers: dict | None = None) -> str:
    """One confirmed publish; what the broker said, in a few words."""
    params = []
    for single in addresses(url):
        one = pika.URLParameters(single)
        one.connection_attempts, one.socket_timeout, one.blocked_connection_timeout = 1, 5, 10
        params.append(one)
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        return f"not sent: no connection ({type(exc).__name__})"
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, routing_key, body, pika.BasicProperties(
            message_id=msg_id, user_id=user_id, content_type="application/json", delivery_mode=2,
            headers=headers), mandatory=True)
        return "published"
    except pika.exceptions.ChannelClosedByBroker as exc:
        return f"refused by the broker: {exc.reply_code} {exc.reply_text}"
    except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as exc:
        return f"refused by the broker: {type(exc).__name__}"
    except pika.exceptions.AMQPError as exc:
        return f"not sent: {type(exc).__name__} {exc}"
    finally:
        if connection.is_open:
            connection.close()


def event_body(kind: str, data: dict, event: str | None = None) -> tuple[str, bytes]:
    """An event's JSON as any publisher may write it: json escapes a lone surrogate as ``\\ud800``."""
    eid = event or str(uuid.uuid4())
    body = {"id": eid, "type": kind, "occurred_at": "2026-12-07T10:00:00+00:00", "source": "chaos-hostile",
            "data": data}
    return eid, json.dumps(body, ensure_ascii=True).encode("ascii")


class Hostiles:
    def __init__(self, site: Site, omero: Omero, history: History, seed: int):
        self.site, self.omero, self.history = site, omero, history
        self.random = random.Random(f"hostile-{seed}")
        self.count = 0

    @property
    def marker(self) -> str:
        """This act's mark, in a subject or a path: the trailing dot keeps 3 apart from 31."""
        return f"chaos-hostile-{self.count}."

    def act(self, kind: str) -> None:
        self.count += 1
        getattr(self, kind.replace("-", "_"))()

    def _try(self, kind: str, role: str, exchange: str, routing_key: str, body: bytes, msg_id: str, must_end: str,
             user_id: str | None = None, headers: dict | None = None) -> None:
        outcome = publish(self.site.url(role, offset=self.count), exchange, routing_key, body, msg_id,
                          user_id or USERS.get(role, role), headers)
        self.history.tried(Hostile(time.time(), kind, USERS.get(role, role), msg_id, must_end, self.marker, outcome))

    def surrogate_web_error(self) -> None:
        where = self.random.choice(SURROGATE_FIELDS)
        data = {"status": 500, "method": "GET", "path": f"/webclient/{self.marker}/", "exception": "ValueError"}
        if where == "user_agent":
            data.update(status=404, url=f"http://{self.marker}example/webclient/", referer="http://omero.example/")
        data[where] = f"{data.get(where, '')}/x\ud800"
        eid, body = event_body("web.error", data)
        self._try("surrogate-web-error", "web", topo.EVENTS_EXCHANGE, "web.error", body, eid, "invalid")

    def broadcast_from_web(self) -> None:
        eid, body = event_body("admin.broadcast", {"subject": f"{MARK} {self.marker} broadcast from the web user",
                                                   "body": "Give me your password.", "everyone": True,
                                                   "requested_by": "root"})
        self._try("broadcast-from-web", "web", topo.EVENTS_EXCHANGE, "web.error", body, eid, "invalid")

    def broadcast_as_other(self) -> None:
        eid, body = event_body("admin.broadcast", {"subject": f"{MARK} {self.marker} alice broadcasting as root",
                                                   "body": "Give me your password.", "everyone": True,
                                                   "requested_by": "root"})
        self._try("broadcast-as-other", "alice", topo.EVENTS_EXCHANGE, "admin.broadcast", body, eid, "invalid")

    def _forged(self, to: str) -> tuple[str, bytes, dict]:
        eid = str(uuid.uuid4())
        mail = Mail(message_id=message_id(eid, "adminBroadcast", to, DOMAIN), event_id=eid,
                    event_type="admin.broadcast", sender="adminBroadcast", mail_from=MAIL_FROM, to=to,
                    subject=f"{MARK} {self.marker} forged outbox message", text="Give me your password.\n")
        message = outbox_message(mail)
        return message.message_id, message.body, message.headers

    def web_to_outbox(self) -> None:
        mid, body, headers = self._forged(f"victim-{self.count}@evil.example")
        self._try("web-to-outbox", "web", topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, body, mid, "refused", headers=headers)

    def forged_outbox(self) -> None:
        to = self.random.choice([f"victim-{self.count}@evil.example", f"carol@{DOMAIN}"])
        mid, body, headers = self._forged(to)
        self._try("forged-outbox", "guest", topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, body, mid, "failed",
                  headers=headers)

    def spoofed_user_id(self) -> None:
        mid, body, headers = self._forged(f"victim-{self.count}@evil.example")
        self._try("spoofed-user-id", "guest", topo.MAIL_EXCHANGE, topo.OUTBOX_KEY, body, mid, "refused",
                  user_id=USERS["rules"], headers=headers)

    def future_bridge_id(self) -> None:
        """The ids of the next eventlog rows, taken first by the web role's events."""
        end = self.omero.eventlog_end()
        for offset in range(1, 4):
            for kind in ("object.created", "comment.added"):
                # The bridge's ids before they took the event's time in (events/bridge/mapping.py).
                squatted = event_id(self.omero.database_uuid, "eventlog", f"{end + offset}/{kind}")
                eid, body = event_body("web.error", {"status": 500, "method": "GET",
                                                     "path": f"/webclient/chaos-squat-{self.count}-{offset}-{kind}/",
                                                     "exception": "ValueError"}, squatted)
                self._try("future-bridge-id", "web", topo.EVENTS_EXCHANGE, "web.error", body, eid, "tolerated")

