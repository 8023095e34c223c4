"""A broadcast's tally as its page shows it: the bar's counts, OMERO's summary, the emails.

Plain values for the JSON the page's script polls (``static/omero_mail/broadcast.js``), built
under the reader's lock in a time that does not grow with the broadcast: the emails listed
are the failed ones with their SMTP replies, those waiting for a retry, then the first sent,
:data:`LISTED` in all; a broadcast of 20,000 is counted, not listed.
"""

from __future__ import annotations

from itertools import islice

from ..results import Tally

#: Emails listed on a broadcast's page.
LISTED = 100
FINISHED, SENDING, NOT_PLANNED, REFUSED = "finished", "sending", "not planned", "refused"


def state(tally: Tally) -> str:
    if tally.refused is not None:
        return REFUSED
    if tally.planned is None:
        return NOT_PLANNED
    return FINISHED if tally.finished else SENDING


def shown(tally: Tally, listed: int = LISTED) -> dict:
    """What the page shows of ``tally``, JSON-ready."""
    failed, retrying = tally.failed_only, tally.waiting_retry
    total = tally.total
    emails = [_email(tally, mail, "failed") for mail in islice(_in_order(tally.replies, failed), listed)]
    emails += [_email(tally, mail, "retrying")
               for mail in islice(_in_order(tally.replies, retrying), listed - len(emails))]
    emails += [_email(tally, mail, "sent")
               for mail in islice(_in_order(tally.recipients, tally.sent), max(0, listed - len(emails)))]
    queued = tally.queued or {}
    return {
        "state": state(tally),
        "finished": tally.finished,
        "total": total if tally.planned is not None else None,
        "sent": len(tally.sent),
        "failed": len(failed),
        "retrying": len(retrying),
        "waiting": max(0, total - tally.done - len(retrying)),
        "summary": tally.summary(),
        "queued": {key: queued.get(key) for key in ("at", "subject", "requested_by", "recipients", "cc", "bcc")},
        "emails": emails,
        "unlisted": max(0, len(tally.sent) + len(failed) + len(retrying) - len(emails)),
    }


def _in_order(ordered: dict, among: set):
    """The keys of ``ordered`` (in their order) that are in ``among``, looked at no further than needed."""
    if not among:
        return iter(())
    return (key for key in ordered if key in among)


def _email(tally: Tally, mail: str, outcome: str) -> dict:
    attempts, reply = tally.replies.get(mail, (0, ""))
    return {"recipient": tally.recipients.get(mail, ""), "outcome": outcome,
            "attempts": attempts or None, "reply": reply if outcome != "sent" else ""}
