"""The subcommands of ``omero-mail``; each module has ``register(subparsers)``."""

from __future__ import annotations


class CommandError(Exception):
    """A command that cannot do what was asked; the message is the one line printed."""


from . import config, consume, declare, publish, senders, sink  # noqa: E402

COMMANDS = (consume, publish, senders, config, declare, sink)
