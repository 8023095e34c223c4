"""The subcommands of ``omero-mail``: the table below, and one module each with ``register(subparsers)``.

``omero-mail --help`` reads only the table. A command's module, and what it imports (pika,
marshmallow, the senders), is loaded when that command is given. A new command is a new
module and its line in :data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
from argparse import Namespace
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from events.config import Properties

#: Each command: the module here that registers it, and the line ``omero-mail --help`` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "bridge": ("bridge", "publish a running OMERO's events from its database and log"),
    "broadcast": ("broadcast", "email users, as `omero admin email`, through the queue"),
    "config": ("config", "show or set properties (passwords hidden)"),
    "consume": ("consume", "run the consumer (rules and delivery stages)"),
    "declare": ("declare", "declare the RabbitMQ topology and exit"),
    "definitions": ("definitions", "print the RabbitMQ definitions (JSON) of the topology"),
    "failed": ("failed", "list, show, replay or purge emails that could not be delivered (omero.mail.failed)"),
    "invalid": ("failed", "list, show, replay or purge events the rules stage refused (omero.mail.invalid)"),
    "publish": ("publish", "publish one event and wait for the broker's confirm"),
    "senders": ("senders", "list the active mail senders (and check their XML)"),
    "sink": ("sink", "run a local SMTP server that files mails under a Maildir"),
    "publish-spool": ("spool", "publish the events OMERO.web spooled while the broker was down"),
    "web": ("web", "run the admin web app (broadcasts, parking lots, health) standalone"),
}


class CommandError(Exception):
    """A command that cannot do what was asked; the message is the one line printed."""


def module(command: str) -> ModuleType:
    """The module that registers ``command`` (a name in :data:`COMMANDS`), loaded now."""
    return importlib.import_module(f"{__name__}.{COMMANDS[command][0]}")


def properties(args: Namespace) -> Properties:
    """The effective properties for the global options ``--config`` and ``--omero-config``, checked
    as every command starts (``events/settings.py``): a bad typed value is the command's one-line
    error, and a key omero-mail does not read a warning."""
    import os

    from events.config import load
    from events.settings import checked_at_start

    props = load(config_files=args.config, omero_config=args.omero_config)
    checked_at_start(props, os.environ)
    return props
