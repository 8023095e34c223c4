"""omero-mail's broker users, one per role, and what RabbitMQ lets each of them do.

DESIGN.md "Who publishes, and who may": the OMERO.web hooks publish ``web.error`` only;
the bridge OMERO's server, login, object and comment events; each admin
``admin.broadcast``, and reads its broadcasts' outcomes; the rules stage alone consumes
the events and writes the outbox; the delivery stage consumes the outbox, and the
parking lots for the replay tool (``failed replay`` runs as it); the replay role reads
``omero.mail.invalid`` and puts its events back on ``omero.events`` (``invalid replay``),
which no stage may do; the server role publishes OMERO.server's start and stop alone
(``deploy/systemd/omero-mail-server-events.service``); the OMERO.web app's role broadcasts as
an admin's does, for whichever admin is logged in (the rules stage asks for the proof of that
admin's OMERO session, ``consumer/access/trust.py``), and holds nothing on the parking lots
(its pages replay them through the roles the commands use). RabbitMQ's permissions say which
exchanges and queues a user may configure, write and read; its topic permissions limit the routing keys a
user may publish to ``omero.events`` (the routing key is the event's type). The exchange
``omero.mail`` is direct, where RabbitMQ has no topic permissions: which of its
messages the delivery stage sends is checked by the stage (``consumer/access/trust.py``).

``omero-mail definitions --users`` writes these for ``rabbitmqctl import_definitions``,
``--rabbitmqctl`` as the commands that set them; neither holds a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from events import topology as topo


SERVER_EVENTS = ("server.startup", "server.shutdown")
BRIDGE_EVENTS = (*SERVER_EVENTS, "login.failed", "object.created", "object.updated", "object.deleted",
                 "comment.added")
WEB_EVENTS = ("web.error",)
ADMIN_EVENTS = ("admin.broadcast",)
#: What ``invalid replay`` may put back: the events trusted by their routing key alone. A
#: broadcast is trusted only from a broker user allowed to broadcast as its requested_by, so
#: its admin sends it again (``omero-mail broadcast ... --id ID``, the same Message-IDs).
REPLAYED_EVENTS = BRIDGE_EVENTS + WEB_EVENTS
#: A broadcast's own queues: its results queue and the index of the last broadcasts.
BROADCAST_QUEUES = (re.escape(topo.BROADCASTS_QUEUE), re.escape(topo.broadcast_queue("")) + ".+")


@dataclass(frozen=True)
class Grant:
    """One broker user's permissions in a vhost: regular expression alternatives per kind."""

    user: str
    configure: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    #: (exchange, write pattern, read pattern): the routing keys allowed on a topic exchange.
    topics: tuple[tuple[str, str, str], ...] = ()

    def merged(self, other: "Grant") -> "Grant":
        def union(a, b):
            return tuple(dict.fromkeys((*a, *b)))

        return Grant(self.user, union(self.configure, other.configure), union(self.write, other.write),
                     union(self.read, other.read), union(self.topics, other.topics))


def pattern(alternatives: Sequence[str]) -> str:
    """RabbitMQ's permission pattern matching exactly these alternatives; nothing when empty."""
    return f"^({'|'.join(alternatives)})$" if alternatives else "^$"


def names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(re.escape(v) for v in values)


def _publisher(user: str, events: Sequence[str]) -> Grant:
    return Grant(user, write=names([topo.EVENTS_EXCHANGE]),
                 topics=((topo.EVENTS_EXCHANGE, pattern(names(events)), "^$"),))


def _stage(user: str, topology: topo.Topology, consumes: Sequence[str]) -> Grant:
    """A consumer stage declares the whole topology at connect, so it may configure it and
    bind its queues; it publishes to omero.mail and omero.mail.results only."""
    every = names([e.name for e in topology.exchanges] + [q.name for q in topology.queues])
    return Grant(user, configure=every,
                 write=names([topo.MAIL_EXCHANGE, topo.RESULTS_EXCHANGE] + [q.name for q in topology.queues]),
                 read=names([topo.EVENTS_EXCHANGE, topo.MAIL_EXCHANGE, *consumes]))


def _admin(user: str) -> Grant:
    """An admin broadcasts and follows its broadcasts; the web app's Health page reads the
    stages' activity reports as the admin (a read gives each report back at once)."""
    return Grant(user, configure=BROADCAST_QUEUES,
                 write=(*names([topo.EVENTS_EXCHANGE, topo.RESULTS_EXCHANGE]), *BROADCAST_QUEUES),
                 read=(*names([topo.RESULTS_EXCHANGE, topo.ACTIVITY_QUEUE]), *BROADCAST_QUEUES),
                 topics=((topo.EVENTS_EXCHANGE, pattern(names(ADMIN_EVENTS)), "^$"),
                         # Only a broadcast's first outcome, "queued"; the stages report the rest.
                         (topo.RESULTS_EXCHANGE, r"^[^.]+\.queued$", ".*")))


def _replay(user: str) -> Grant:
    """``omero-mail invalid replay``: read ``omero.mail.invalid`` (take a message off it once its
    copy is confirmed), and publish the events it may put back."""
    return Grant(user, write=names([topo.EVENTS_EXCHANGE]), read=names([topo.INVALID_QUEUE]),
                 topics=((topo.EVENTS_EXCHANGE, pattern(names(REPLAYED_EVENTS)), "^$"),))


def grants(topology: topo.Topology, *, rules: str, delivery: str, web: str, bridge: str, replay: str, server: str,
           webapp: str, admins: Sequence[str]) -> list[Grant]:
    """Every role's grant; one user holding two roles (both stages in one process) gets both."""
    # The rules stage also keeps its state in its stream, through the default exchange.
    state = Grant(rules, write=names(["amq.default"]))
    wanted = [_stage(rules, topology, [topo.EVENTS_QUEUE, topo.STATE_STREAM]).merged(state),
              _stage(delivery, topology, [topo.OUTBOX_QUEUE, topo.FAILED_QUEUE, topo.INVALID_QUEUE]),
              _publisher(web, WEB_EVENTS), _publisher(bridge, BRIDGE_EVENTS), _replay(replay),
              # The web app broadcasts as an admin's user does; the rules stage checks for whom.
              _publisher(server, SERVER_EVENTS), _admin(webapp), *map(_admin, admins)]
    by_user: dict[str, Grant] = {}
    for grant in wanted:
        by_user[grant.user] = by_user[grant.user].merged(grant) if grant.user in by_user else grant
    return list(by_user.values())


def from_properties(topology: topo.Topology, props, admins: Sequence[str]) -> list[Grant]:
    return grants(topology, rules=props["omero.mail.broker.rules-user"],
                  delivery=props["omero.mail.broker.delivery-user"], web=props["omero.mail.broker.web-user"],
                  bridge=props["omero.mail.broker.bridge-user"], replay=props["omero.mail.broker.replay-user"],
                  server=props["omero.mail.broker.server-user"], webapp=props["omero.mail.broker.webapp-user"],
                  admins=admins)


def rabbitmqctl(grants_: Sequence[Grant], vhost: str) -> str:
    """The shell commands that create the users (each asks for its password) and set their grants."""
    lines = ["#!/bin/sh", "# omero-mail's broker users (README, Deployment). rabbitmqctl add_user asks for each",
             "# password on standard input, so none is on a command line.", "set -e"]
    for grant in grants_:
        lines += ["", f"rabbitmqctl add_user {_quote(grant.user)}",
                  f"rabbitmqctl set_permissions -p {_quote(vhost)} {_quote(grant.user)} "
                  f"{_quote(pattern(grant.configure))} {_quote(pattern(grant.write))} {_quote(pattern(grant.read))}"]
        lines += [f"rabbitmqctl set_topic_permissions -p {_quote(vhost)} {_quote(grant.user)} {_quote(exchange)} "
                  f"{_quote(write)} {_quote(read)}" for exchange, write, read in grant.topics]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
