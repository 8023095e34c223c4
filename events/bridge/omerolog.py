"""The lines of OMERO's ``Blitz-0.log`` that are events: failed logins, server start and stop.

OMERO's ``etc/logback.xml`` writes each line as
``%date %-5level [%40.40logger{40}] \\(%10.10thread\\) %msg%n`` (one line, wrapped here)::

    2026-12-02 10:15:03,114 WARN  [  ome.security.auth.LoginAttemptListener] (l.Server-7)
        1 failed logins for alice. Throttling for 3000

What is read, from OMERO's code (ome/omero-server, ome/omero-blitz):

- ``ome.security.auth.LoginAttemptListener`` (WARN) ``N failed logins for USER. Throttling
  for T``: the listener of the same ``LoginAttemptMessage`` OMERO's FailedLoginMailSender
  answers, one line per failed password check. OMERO writes it only once a user's
  consecutive failures exceed ``omero.security.login_failure_throttle_count`` (default 1,
  so from the second failure on); set it to 0 for every failure to be logged (README).
  OMERO logs no client address for a failed login, so ``remote_addr`` is absent.
- ``ome.services.blitz.Entry`` (INFO) ``OMERO.blitz now accepting connections.``: the
  server is up (``server.startup``); ``Calling close on context OMERO.blitz``: it is going
  down (``server.shutdown``), where OMERO's ServerDownMailSender fires.

Pure logic: lines in, events out, ids derived from the line itself so a line read twice
(after a crash) is the same event.
"""

from __future__ import annotations

import re
import socket
from datetime import datetime
from typing import Iterable

from ..schemas import Event, load_event
from .mapping import event_id

LINE = re.compile(r"^(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>[A-Z]+) +"
                  r"\[ *(?P<logger>[^\]]*)\] \((?P<thread>[^)]*)\) (?P<message>.*)$")
FAILED_LOGIN = re.compile(r"^\d+ failed logins for (?P<user>.+)\. Throttling for \d+$")
STARTED = re.compile(r"^(?P<server>\S+) now accepting connections\.$")
STOPPING = re.compile(r"^Calling close on context (?P<server>\S+)$")


def _logger_is(logger: str, class_name: str) -> bool:
    """Logback abbreviates long logger names from the left, so compare the class at the end."""
    return logger == class_name or logger.endswith("." + class_name.rpartition(".")[2])


def parse(line: str) -> tuple[str, dict, datetime] | None:
    """``(type, data, when)`` for a line that is an event, else None."""
    match = LINE.match(line)
    if match is None:
        return None
    logger, level, message = match["logger"].strip(), match["level"], match["message"].rstrip()
    when = datetime.strptime(match["date"], "%Y-%m-%d %H:%M:%S,%f").astimezone()  # logback: the server's local time
    if level == "WARN" and _logger_is(logger, "ome.security.auth.LoginAttemptListener"):
        found = FAILED_LOGIN.match(message)
        if found:
            return "login.failed", {"user": found["user"]}, when
    elif level == "INFO" and _logger_is(logger, "ome.services.blitz.Entry"):
        for kind, pattern in (("server.startup", STARTED), ("server.shutdown", STOPPING)):
            found = pattern.match(message)
            if found:
                return kind, {"server": f"{found['server']}@{socket.gethostname()}"}, when
    return None


def events(lines: Iterable[str], database: str, source: str) -> list[Event]:
    """The events among ``lines``, in order."""
    found = []
    for line in lines:
        parsed = parse(line)
        if parsed is not None:
            kind, data, when = parsed
            found.append(load_event({"id": event_id(database, "log", line), "type": kind,
                                     "occurred_at": when.isoformat(), "source": source, "data": data}))
    return found
