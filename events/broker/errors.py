"""What goes wrong with the broker, as exceptions that need no pika to import.

The CLI turns a :class:`BrokerError` into its one-line reason and exit code; importing
this module costs nothing, so it can do that without loading pika first.
"""

from __future__ import annotations


class BrokerError(Exception):
    """The broker is unreachable or refused something; the message says what."""


class TopologyRefused(BrokerError):
    """RabbitMQ refused a declaration: waiting will not mend it, a person must."""


class PublishError(BrokerError):
    """A message was not confirmed by the broker (nacked, unroutable, or cut off)."""


#: Prefix of the reason given to publishes whose confirm never came (connection lost).
LOST = "lost: "
