"""The delivery stage: one outbox message in, one email handed to the transport.

``omero.mail.delivery.connections`` worker threads each own one transport (one reused
SMTP connection). A message is acked only after the server accepted it, or after it
was moved, with a broker confirm, to a retry queue or the parking lot:

- transient failure (connection, timeout, 4xx): retried in-process with tenacity
  (exponential backoff with jitter, a few seconds), then moved to the next
  ``omero.mail.retry.<delay>`` queue, which dead-letters it back to the outbox;
- permanent failure (5xx, an invalid address or message), or the last tier spent:
  parked in ``omero.mail.failed`` with the error, attempt count and times.

A recipient refused among several fails alone: the retry carries only the recipients
still owed the mail (header ``x-omero-mail-recipients``), so nobody gets it twice; a
recipient refused for good (5xx) is parked while the others owed it are retried.
A message that crashes the worker ``omero.mail.queue.delivery-limit`` times is parked.
With the publishers checked, an outbox message that the rules stage did not publish
(``consumer/access/trust.py``) is parked in ``omero.mail.failed`` with the reason and the verdict
(``x-omero-mail-untrusted``), never sent, and never replayed unless an admin vouches for it.

Each message becomes one outcome value (sent, retry, parked, partly sent); the worker
base (``consumer/stages/worker.py``) logs, counts, reports and settles it.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Never, cast

from tenacity import (RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay,
                      wait_random_exponential)

from events import topology as topo
from events.broker import Delivery
from senders.mail import Mail
from senders.message import UnsafeMail, build
from senders.transports import DeliveryError, Envelope, Refused, TransientError, Transport

from .. import outcomes
from ..outcomes import Outcome, Parked, PartlySent, Retry, Sent
from .worker import Worker


class DeliveryStage(Worker[Never]):
    name = "delivery"
    queue = topo.OUTBOX_QUEUE
    parking = topo.FAILED_QUEUE
    crashed = "delivery of %s crashed"
    crash_reason = "delivery crashed"

    def __init__(self, transport_factory: Callable[[], Transport], *, connections: int = 2,
                 retry_delays_ms: tuple[int, ...] = (), retry_seconds: float = 5.0, retry_attempts: int = 4,
                 show_addresses: bool = False, crash_limit: int = 5):
        super().__init__(threads=connections, crash_limit=crash_limit, show_addresses=show_addresses)
        self.transport_factory = transport_factory
        self.retry_delays_ms = tuple(retry_delays_ms)
        self.retry_seconds = retry_seconds
        self.retry_attempts = retry_attempts
        #: Each thread's own transport: one reused SMTP connection per thread.
        self._local = threading.local()

    def thread_started(self) -> None:
        self._local.transport = self.transport_factory()

    def thread_stopped(self) -> None:
        self._local.transport.close()

    # -- one message -------------------------------------------------------------------
    def process(self, delivery: Delivery) -> Outcome:
        attempts = outcomes.this_attempt(delivery.headers)
        refusal = self.trust.refuses_outbox(delivery.user_id)
        if refusal:
            return Parked(self.parking, f"refused: {refusal}", attempts=attempts, untrusted=delivery.user_id or "")
        try:
            mail = Mail.from_json(delivery.body)
            recipients = tuple(delivery.headers.get(outcomes.RECIPIENTS) or mail.recipients)
            envelope = Envelope(mail.mail_from_address, recipients, build(mail), mail.message_id)
        except (ValueError, TypeError, KeyError, UnsafeMail) as exc:
            return Parked(self.parking, f"cannot build the message: {exc}", attempts=attempts)
        try:
            refused = self._send(envelope)
        except TransientError as exc:
            return self._retry(mail, attempts, exc.reason, recipients)
        except DeliveryError as exc:
            return self._parked(mail, attempts, exc.reason, recipients)
        if refused:
            return PartlySent(mail, self._refused(mail, attempts, recipients, refused))
        return Sent(mail, attempts)

    def _send(self, envelope: Envelope) -> Refused:
        """The first attempt straight to the transport; tenacity only once it has failed.

        Nearly every email goes at the first attempt, and building and running tenacity's
        machinery for it cost about a twentieth of the stage's CPU (README, "Performance").
        The attempts after a failure are tenacity's, with the attempts and the time left.
        """
        send = self._local.transport.send
        started = time.monotonic()
        try:
            return send(envelope)
        except TransientError:
            if self.retry_attempts <= 1 or time.monotonic() - started >= self.retry_seconds:
                raise
        pause = wait_random_exponential(multiplier=0.2, max=2.0)
        time.sleep(pause(_attempt(1)))  # the pause after the first attempt, as tenacity would make it
        return self._later_attempts(started, pause)(send, envelope)

    def _later_attempts(self, started: float, pause: wait_random_exponential) -> Retrying:
        """Attempts 2 to ``retry_attempts``, within ``retry_seconds`` of ``started``, each after its pause."""

        def wait(state: RetryCallState) -> float:
            return pause(_attempt(state.attempt_number + 1))

        return Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.retry_attempts - 1)
            | stop_after_delay(max(0.0, self.retry_seconds - (time.monotonic() - started))),
            wait=wait,
            reraise=True,
        )

    # -- when it did not go --------------------------------------------------------------
    def _refused(self, mail: Mail, attempts: int, recipients: tuple[str, ...],
                 refused: Refused) -> tuple[Retry | Parked, ...]:
        """Some recipients refused, the others accepted: park the 5xx ones, retry the 4xx ones."""
        permanent = tuple(r for r in recipients if r in refused and refused[r][:1] == "5")
        transient = tuple(r for r in recipients if r in refused and r not in permanent)
        owed: list[Retry | Parked] = []
        if permanent:
            reason = "recipient refused: " + "; ".join(f"{r}: {refused[r]}" for r in permanent)
            owed.append(self._parked(mail, attempts, reason, permanent))
        if transient:
            reason = "recipient refused: " + "; ".join(f"{r}: {refused[r]}" for r in transient)
            owed.append(self._retry(mail, attempts, reason, transient))
        return tuple(owed)

    def _retry(self, mail: Mail, attempts: int, reason: str, recipients: tuple[str, ...]) -> Retry | Parked:
        """The next retry tier, or the parking lot once the tiers are spent."""
        tier = attempts - 1
        if tier >= len(self.retry_delays_ms):
            return self._parked(mail, attempts, f"still failing after {attempts} attempt(s): {reason}", recipients)
        return Retry(self.retry_delays_ms[tier], reason, mail, attempts, recipients)

    def _parked(self, mail: Mail, attempts: int, reason: str, recipients: tuple[str, ...]) -> Parked:
        return Parked(self.parking, reason, mail, attempts, recipients)


class _Attempt:
    """What tenacity's waits read of an attempt: its number (the first failed outside tenacity)."""

    __slots__ = ("attempt_number",)

    def __init__(self, attempt_number: int):
        self.attempt_number = attempt_number


def _attempt(number: int) -> RetryCallState:
    return cast(RetryCallState, _Attempt(number))
