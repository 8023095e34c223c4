"""RabbitMQ definitions (exchanges, queues, bindings, policies) generated from the topology.

RabbitMQ recommends policies over queue arguments for dead-lettering, TTL, delivery
limits and a stream's retention: a policy can be changed on a running broker, an argument only by deleting the
queue. So the definitions file declares each queue with its type alone and moves those
settings into one policy per queue. A consumer running against a broker loaded from
this file sets ``omero.mail.queue.policies=true`` and declares the same reduced
arguments (:func:`declared`); otherwise RabbitMQ would refuse its declarations with
406 PRECONDITION_FAILED (inequivalent arguments).

With the roles' grants (``consumer/access/roles.py``) the definitions also hold each broker
user's permissions and topic permissions, beside the queues they concern. The users
themselves are not in them: a user imported without a password could not log in, and
one imported again would lose the password it was given. They are made first with
``rabbitmqctl add_user``, which asks for the password.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

from typing import Sequence

from events import topology as topo
from events.settings import QueueSettings, queue_settings

from .roles import Grant, pattern

#: Queue arguments that have a policy equivalent, and the policy key for each.
POLICY_KEYS = {
    "x-message-ttl": "message-ttl",
    "x-dead-letter-exchange": "dead-letter-exchange",
    "x-dead-letter-routing-key": "dead-letter-routing-key",
    "x-delivery-limit": "delivery-limit",
    "x-dead-letter-strategy": "dead-letter-strategy",
    "x-overflow": "overflow",
    "x-max-age": "max-age",
    "x-stream-max-segment-size-bytes": "stream-max-segment-size-bytes",
    "x-max-length": "max-length",
}
#: Above a site's catch-all policies, so omero-mail's queues keep their retry behaviour.
POLICY_PRIORITY = 10


def declared(topology: topo.Topology) -> topo.Topology:
    """The topology with the policy-carried arguments removed from its queues."""
    def kept(arguments: dict) -> dict:
        return {k: v for k, v in arguments.items() if k not in POLICY_KEYS}

    queues = tuple(replace(q, arguments=kept(q.arguments), from_4=kept(q.from_4)) for q in topology.queues)
    return replace(topology, queues=queues)


def policies(topology: topo.Topology, vhost: str, rabbitmq: int = 3) -> list[dict]:
    """One policy per queue that needs one, for RabbitMQ ``rabbitmq``.x (a policy RabbitMQ 3.x
    would refuse, such as a delivery limit of -1, is only in RabbitMQ 4's)."""
    found = []
    for queue in topology.queues:
        definition = {POLICY_KEYS[k]: v for k, v in queue.arguments_on(rabbitmq).items() if k in POLICY_KEYS}
        if definition:
            found.append({"vhost": vhost, "name": queue.name, "pattern": f"^{re.escape(queue.name)}$",
                          "apply-to": "queues", "definition": definition, "priority": POLICY_PRIORITY})
    return found


def permissions(grants: Sequence[Grant], vhost: str) -> dict:
    return {
        "permissions": [{"user": g.user, "vhost": vhost, "configure": pattern(g.configure),
                         "write": pattern(g.write), "read": pattern(g.read)} for g in grants],
        "topic_permissions": [{"user": g.user, "vhost": vhost, "exchange": exchange, "write": write, "read": read}
                              for g in grants for exchange, write, read in g.topics],
    }


def definitions(topology: topo.Topology, vhost: str = "/", grants: Sequence[Grant] = (), rabbitmq: int = 3) -> dict:
    """What ``rabbitmqctl import_definitions`` (or an import at boot) of RabbitMQ ``rabbitmq``.x reads."""
    queues = declared(topology).queues
    return {
        **(permissions(grants, vhost) if grants else {}),
        "vhosts": [{"name": vhost}],
        "exchanges": [{"name": e.name, "vhost": vhost, "type": e.type, "durable": True, "auto_delete": False,
                       "internal": False, "arguments": {}} for e in topology.exchanges],
        "queues": [{"name": q.name, "vhost": vhost, "durable": True, "auto_delete": False,
                    "arguments": dict(q.arguments)} for q in queues],
        "bindings": [{"source": b.exchange, "vhost": vhost, "destination": b.queue, "destination_type": "queue",
                      "routing_key": b.routing_key, "arguments": {}} for b in topology.bindings],
        "policies": policies(topology, vhost, rabbitmq),
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def declared_topology(queues: QueueSettings) -> topo.Topology:
    """What the consumer declares: all arguments, or only the non-policy ones."""
    topology = topo.from_settings(queues)
    return declared(topology) if queues.policies else topology


def topology_for(props) -> topo.Topology:
    return declared_topology(queue_settings(props))
