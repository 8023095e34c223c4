"""``omero-mail broadcast``, after the publish: following a broadcast's delivery, and ``broadcast status ID``.

Both read the broadcast's results queue (``consumer/admin/results.py``) and print OMERO's
summary; :mod:`.broadcast` is the command itself.
"""

from __future__ import annotations

import sys
import time

from . import properties

#: Ours: the broadcast went out but some emails failed, or the consumer refused it.
EXIT_SOME_FAILED = 1


def die(code: int, text: str) -> int:
    """omero-py cli.py ``die``: the text on stderr, the code returned."""
    print(text, file=sys.stderr)
    return code


def broker_url(props) -> str:
    """The admin's own broker login when publishers are checked, else the configured URL."""
    from ...access.credentials import admin_url
    from ...access.trust import Trust

    if not Trust.from_properties(props).checked:
        return props["omero.mail.broker.url"]
    return admin_url(props, props["omero.mail.broadcast.user"])


def follow(url: str, event_id: str, limit: float) -> int:
    from .. import results
    from ..progress import Progress
    from . import CommandError

    reader = results.Reader(url, event_id)
    if not reader.start():
        reader.stop()
        raise CommandError(f"cannot read the results of broadcast {event_id}"
                           + (f": {reader.error}" if reader.error else ""))
    deadline = time.monotonic() + limit if limit else None
    progress = None
    hinted = False
    started = time.monotonic()
    try:
        while True:
            tally = reader.snapshot()
            if tally.planned is not None and tally.total:
                progress = progress or Progress(tally.total, "Sending")
                progress.update(tally.done, tally.total)
            if tally.finished or (deadline is not None and time.monotonic() >= deadline):
                break
            if tally.planned is None and not hinted and time.monotonic() - started > 10:
                hinted = True
                print("No consumer has planned the broadcast yet (is `omero-mail consume` running? "
                      "a refused broadcast is parked in omero.mail.invalid)", file=sys.stderr)
            time.sleep(0.1)
    finally:
        if progress is not None:
            progress.close()
        reader.stop()
    for line in tally.summary():
        print(line)
    if tally.refused is not None or tally.failed_only:
        return EXIT_SOME_FAILED
    if not tally.finished:
        print(f"`omero-mail broadcast status {event_id}` follows the rest")
    return 0


def status(args, given: str) -> int:
    from .. import results

    props = properties(args)
    url = broker_url(props)
    matches = results.find(url, given)
    if not matches:
        return die(1, f"No broadcast {given!r} is known (none queued with this ID, or its outcomes expired "
                       f"after omero.mail.broadcast.results.expires)")
    if len(matches) > 1:
        return die(1, f"{given!r} is the start of {len(matches)} broadcast IDs: " + ", ".join(sorted(matches)))
    [event_id] = matches
    tally = results.read_all(url, event_id)
    print(f"Broadcast {event_id}")
    for line in tally.summary():
        print(line)
    return 0
