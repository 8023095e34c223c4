"""The ``omero-mail`` console script: global options, then one subcommand.

Each subcommand lives in ``consumer/admin/commands/<name>.py`` with ``register(subparsers)``,
and has its line in that package's table. The command line is read twice: first by a
parser that knows only the table's names and help lines (all ``omero-mail --help``
needs, so it loads neither pika nor marshmallow), then by one with the chosen command's
own parser, built by its module, which is imported only then.

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
import time
from typing import Iterator, Sequence

from .commands import COMMANDS, CommandError, module


def expected_errors() -> tuple[type[Exception], ...]:
    """Errors that are the admin's to fix: printed as one line, exit 1, no traceback.

    Imported once a command has failed, not at start: the broker's would load pika.
    """
    from events.bridge.errors import BridgeError
    from events.broker import BrokerError
    from events.config import ConfigError
    from senders.directory import DirectoryError
    from senders.transports import TransportConfigError
    from senders.xmlconfig import SenderConfigError

    return (CommandError, ConfigError, BrokerError, DirectoryError, TransportConfigError, SenderConfigError,
            BridgeError)


class _StampOncePerSecond(logging.Formatter):
    """A formatter that renders the date and time once a second, not once a line.

    The consumer logs a line per email; ``time.strftime`` for each of them was a visible
    share of the delivery stage's CPU. Formatting runs under the handler's lock.
    """

    _second: int | None = None
    _stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return "%s,%03d" % (self._stamp, record.msecs)  # logging.Formatter.default_msec_format


class _JsonFormatter(_StampOncePerSecond):
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
        handler.setFormatter(_StampOncePerSecond("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # Neither format shows the process, and looking it up is part of every record's cost.
    logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pika logs every failed connection attempt at ERROR, several lines deep; our own
    # one-line messages say the same thing, so pika speaks only when debugging.
    logging.getLogger("pika").setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.CRITICAL)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Without ``command``: every command's name and help line, nothing more (each takes any
    arguments). With it: that command's own parser in full, from its module."""
    parser = argparse.ArgumentParser(prog="omero-mail", description="OMERO's mail, queued: events in, emails out.")
    add_global_options(parser, defaults=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command is None:
        for name, (_module, help_line) in COMMANDS.items():
            subparsers.add_parser(name, help=help_line, add_help=False)
        return parser
    module(command).register(subparsers)
    for sub in _leaf_parsers(parser):
        add_global_options(sub, defaults=False)
    return parser


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line read against the table (``--help``, an unknown command, a bad global
    option: argparse's usage error, exit 2), then against the chosen command's parser."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = build_parser().parse_known_args(argv)[0].command
    return build_parser(command).parse_args(argv)


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


def _leaf_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    yield from _leaf_parsers(sub)
                else:
                    yield sub


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Python's last flush at exit would fail again and print a traceback: write nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not isinstance(exc, expected_errors()):
            raise
        from events.config import redact

        print(f"omero-mail: error: {redact(str(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
