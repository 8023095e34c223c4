"""The ``omero-mail`` console script: global options, then one subcommand.

Each subcommand lives in ``consumer/commands/<name>.py`` with ``register(subparsers)``.
Exit codes: 0 ok, 2 usage error (argparse's), 1 with a one-line reason on stderr, and
141 (as a Unix tool killed by SIGPIPE) without a word when the reader of the output went
away (``omero-mail config list | head -2``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Sequence

from events.broker import BrokerError
from senders.directory import DirectoryError
from senders.transports import TransportConfigError
from events.bridge.errors import BridgeError
from senders.xmlconfig import SenderConfigError

from .commands import COMMANDS, CommandError
from events.config import ConfigError, Properties, load, redact

#: Errors that are the admin's to fix: printed as one line, exit 1, no traceback.
EXPECTED_ERRORS = (CommandError, ConfigError, BrokerError, DirectoryError, TransportConfigError, SenderConfigError,
                   BridgeError)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        # Structured fields a log record carries (an email's outcome, event id, Message-ID...).
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika logs every failed connection attempt at ERROR, several lines deep; our own
    # one-line messages say the same thing, so pika speaks only when debugging.
    logging.getLogger("pika").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.CRITICAL)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omero-mail", description="OMERO's mail, queued: events in, emails out.")
    add_global_options(parser, defaults=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    for sub in _leaf_parsers(parser):
        add_global_options(sub, defaults=False)
    return parser


def add_global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """The options every command takes, before or after the command's name."""
    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--config", action="append", default=default([]), metavar="FILE",
                        help="properties file with key=value lines (repeatable; later wins)")
    parser.add_argument("--omero-config", metavar="PATH", default=default(None),
                        help="OMERO's etc/grid/config.xml (default: $OMERODIR/etc/grid/config.xml)")
    parser.add_argument("--log-level", default=default("INFO"), choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default=default("text"), choices=["text", "json"])


def _leaf_parsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _leaf_parsers(sub)
                else:
                    yield sub


def properties(args: argparse.Namespace) -> Properties:
    return load(config_files=args.config, omero_config=args.omero_config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python's last flush at exit would fail again and print a traceback: write nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except EXPECTED_ERRORS as exc:
        print(f"omero-mail: error: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
