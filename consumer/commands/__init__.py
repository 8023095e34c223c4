"""The subcommands of ``omero-mail``: every module here with ``register(subparsers)``.

A new command is a new module; nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil


class CommandError(Exception):
    """A command that cannot do what was asked; the message is the one line printed."""


def _discover():
    modules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    return tuple(modules)


COMMANDS = _discover()
