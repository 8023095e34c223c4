"""All of omero-mail's pika code: connections, topology, confirmed publishing, consuming.

Nothing outside this package imports pika. One module per job:

- :mod:`.errors`: :class:`BrokerError`, :class:`PublishError`, :class:`TopologyRefused`
  (no pika: the CLI imports them).
- :mod:`.connection`: connection parameters, a broker URL with its password hidden.
- :mod:`.confirms`: a :class:`Message`, its properties, and publisher confirms.
- :mod:`.publisher`: :class:`Publisher`, which returns once RabbitMQ confirmed.
- :mod:`.consumer` and :mod:`.channel`: :class:`Consumer` runs :class:`Subscription`\\ s
  and hands each message to a handler as a :class:`Delivery`.
- :mod:`.admin`: :func:`declare_topology`, :func:`queue_depths`, :func:`queue_counts`,
  :func:`consumer_count`, :class:`QueueBrowser`.
- :mod:`.follower`: :class:`Follower` follows a kept queue's messages without holding them.
- :mod:`.stream`: :func:`catch_up` reads a stream up to now.

The names are imported from here (``from events.broker import Publisher``), and each
module is loaded only when one of its names is first asked for (PEP 562), so importing
an exception class does not load pika.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_MODULE_OF = {
    "BrokerError": "errors", "PublishError": "errors", "TopologyRefused": "errors", "LOST": "errors",
    "parameters": "connection", "redacted": "connection",
    "ConfirmTracker": "confirms", "Done": "confirms", "Message": "confirms", "properties": "confirms",
    "UNROUTABLE": "confirms",
    "Publisher": "publisher",
    "Consumer": "consumer", "Delivery": "channel", "Subscription": "channel",
    "catch_up": "stream",
    "Parked": "admin", "QueueBrowser": "admin", "declare_topology": "admin", "queue_depths": "admin",
    "queue_counts": "admin", "consumer_count": "admin", "existing_queues": "admin", "Follower": "follower",
}

__all__ = [
    "LOST", "BrokerError", "ConfirmTracker", "Consumer", "Delivery", "Done", "Follower", "Message", "Parked",
    "PublishError", "Publisher", "QueueBrowser", "Subscription", "TopologyRefused", "UNROUTABLE", "catch_up",
    "consumer_count", "declare_topology", "existing_queues", "parameters", "properties", "queue_counts", "queue_depths",
    "redacted",
]


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from .admin import (Parked, QueueBrowser, consumer_count, declare_topology, existing_queues, queue_counts,
                        queue_depths)
    from .channel import Delivery, Subscription
    from .confirms import UNROUTABLE, ConfirmTracker, Done, Message, properties
    from .connection import parameters, redacted
    from .consumer import Consumer
    from .errors import LOST, BrokerError, PublishError, TopologyRefused
    from .follower import Follower
    from .publisher import Publisher
    from .stream import catch_up
