"""``omero-mail publish-spool FILE``: publish the events a web process had to spool.

When OMERO.web cannot reach the broker it appends each ``web.error`` event to a spool
file (``events/web/publish.py``) rather than lose it. This publishes them, confirmed,
and empties the file; a line that is not a valid event is kept in ``FILE.invalid`` with
nothing else lost. The emptied file stays, with the web process's owner and mode, so a
missing FILE is a wrong path (exit 1), never mistaken for "nothing spooled".

The file is first renamed ``FILE.publishing-<pid>``, so events spooled meanwhile go to a
new FILE. Whatever ends the run before every event is confirmed (an error, Ctrl-C,
SIGTERM or SIGHUP) gives the events back to FILE; a run killed outright leaves its
``.publishing-<pid>`` file, which the next run publishes too once that process is gone.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from . import properties

#: Signals that end a run as Ctrl-C does: the events are given back first.
STOPPING = (signal.SIGTERM, signal.SIGHUP)


def register(subparsers) -> None:
    parser = subparsers.add_parser("publish-spool")
    parser.add_argument("file", type=Path, metavar="FILE", help="the spool file (OMERO_MAIL_SPOOL)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from events import topology as topo
    from events.broker import Message, Publisher
    from events.schemas import InvalidEvent, load_event

    props = properties(args)
    spool: Path = args.file
    with _stopped_by_signals():
        taken = _take(spool)
        try:
            lines = taken.read_bytes().splitlines()
            if not any(line.strip() for line in lines):
                _leave_empty(taken, spool)
                print(f"{spool}: nothing spooled")
                return 0
            events, invalid = [], []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    events.append(load_event(line))
                except InvalidEvent:
                    invalid.append(line)
            with Publisher(props["omero.mail.broker.url"]) as publisher:
                publisher.publish_many([Message(topo.EVENTS_EXCHANGE, e.type, e.to_json(), e.id) for e in events])
        except BaseException:
            _ignore_signals()
            _give_back(taken, spool)
            raise
    if invalid:
        _append(spool.with_name(spool.name + ".invalid"), b"\n".join(invalid) + b"\n")
    _leave_empty(taken, spool)
    print(f"published {len(events)} event(s) from {spool}" + (f"; {len(invalid)} invalid line(s) kept in "
                                                            f"{spool}.invalid" if invalid else ""))
    return 0


def _take(spool: Path) -> Path:
    """This run's own file: the spool file renamed, with the events of any run that died meanwhile."""
    from . import CommandError

    taken = spool.with_name(f"{spool.name}.publishing-{os.getpid()}")
    leftovers = _leftovers(spool)
    try:
        os.replace(spool, taken)
    except FileNotFoundError:
        if not leftovers:
            raise CommandError(f"no spool file {spool} (OMERO.web's OMERO_MAIL_SPOOL; it is made when an "
                               "event is first spooled)") from None
        # The run that died had taken the file itself: its rename keeps the web process's owner and mode.
        os.replace(leftovers.pop(0), taken)
    except OSError as exc:
        raise CommandError(f"cannot take {spool}: {exc.strerror}") from None
    for leftover in leftovers:
        _append(taken, leftover.read_bytes())
        leftover.unlink()
    return taken


def _leftovers(spool: Path) -> list[Path]:
    """The ``.publishing-<pid>`` files of runs that are gone; one still running keeps its own."""
    found = []
    for path in sorted(spool.parent.glob(f"{spool.name}.publishing-*")):
        pid = path.name.rsplit("-", 1)[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        if _publishing(int(pid)):
            print(f"{path} is being published by process {pid}; left to it", file=sys.stderr)
        else:
            found.append(path)
    return found


def _publishing(pid: int) -> bool:
    """Whether process ``pid`` is a publish-spool run (not merely a process that took its number since)."""
    try:
        return b"publish-spool" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does, so the events are given back."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    before = {signum: signal.getsignal(signum) for signum in (*STOPPING, signal.SIGINT)}
    for signum in STOPPING:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def _ignore_signals() -> None:
    """While the events are given back, a second signal must not cut that short."""
    for signum in (*STOPPING, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as target:
        target.write(data)
        target.flush()
        os.fsync(target.fileno())


def _leave_empty(taken: Path, spool: Path) -> None:
    """Put the taken file back, emptied, unless the web process has begun a new one meanwhile."""
    os.truncate(taken, 0)
    try:
        os.link(taken, spool)
    except FileExistsError:
        pass
    taken.unlink()


def _give_back(taken: Path, spool: Path) -> None:
    """Nothing was published for sure: the events go back to the spool file."""
    if spool.exists():
        _append(spool, taken.read_bytes())
        taken.unlink()
    else:
        os.replace(taken, spool)
