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
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Mapping

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_random_exponential

from events import topology as topo
from events.broker import Delivery, Message
from senders.mail import Mail
from senders.message import UnsafeMail, build
from senders.transports import DeliveryError, Envelope, TransientError, Transport

from . import outcomes

log = logging.getLogger(__name__)


def mask(address: str) -> str:
    """``jane.doe@example.org`` -> ``j***@example.org`` for logs."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def this_attempt(delivery: Delivery) -> int:
    """1 for a message fresh from the rules stage, one more for each retry tier it came back from."""
    return int(delivery.headers.get(outcomes.ATTEMPTS, 0)) + 1


class DeliveryStage:
    def __init__(self, transport_factory: Callable[[], Transport], *, connections: int = 2,
                 retry_delays_ms: tuple[int, ...] = (), retry_seconds: float = 5.0, retry_attempts: int = 4,
                 show_addresses: bool = False, crash_limit: int = 5):
        self.transport_factory = transport_factory
        self.connections = max(1, connections)
        self.retry_delays_ms = tuple(retry_delays_ms)
        self.retry_seconds = retry_seconds
        self.retry_attempts = retry_attempts
        self.show_addresses = show_addresses
        self.crashes = outcomes.Crashes(crash_limit)
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.on_outcome: Callable[[str, Mail | None, str], None] = lambda outcome, mail, detail: None
        #: Observer (metrics): the outbox headers of each email the server accepted.
        self.on_accepted: Callable[[Mapping], None] = lambda headers: None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        for number in range(self.connections):
            thread = threading.Thread(target=self._work, name=f"delivery-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def handle(self, delivery: Delivery) -> None:
        self._queue.put(delivery)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def _work(self) -> None:
        transport = self.transport_factory()
        try:
            while (delivery := self._queue.get()) is not None:
                if not delivery.live:
                    # Its connection was lost while it waited here: the broker already gave it
                    # back to the queue, and sending it now would only make a duplicate.
                    continue
                try:
                    self.deliver(transport, delivery)
                except Exception as exc:  # noqa: BLE001 - keep the worker alive; the message goes back
                    self._crashed(delivery, exc)
        finally:
            transport.close()

    def _crashed(self, delivery: Delivery, exc: Exception) -> None:
        if self.crashes.record(delivery.message_id, delivery.body):
            log.exception("delivery of %s crashed %d times; parking it", delivery.message_id, self.crashes.limit)
            attempts = this_attempt(delivery)
            reason = f"delivery crashed {self.crashes.limit} times: {type(exc).__name__}: {exc}"
            self._move(delivery, [self._parked(delivery, None, attempts, reason)])
        else:
            log.exception("delivery of %s crashed; returning it to the queue", delivery.message_id)
            delivery.nack(requeue=True)

    # -- one message -------------------------------------------------------------------
    def deliver(self, transport: Transport, delivery: Delivery) -> None:
        headers = delivery.headers
        attempts = this_attempt(delivery)
        try:
            mail = Mail.from_json(delivery.body)
            recipients = list(headers.get(outcomes.RECIPIENTS) or mail.recipients)
            envelope = Envelope(mail.mail_from_address, recipients, build(mail), mail.message_id)
        except (ValueError, TypeError, KeyError, UnsafeMail) as exc:
            self._move(delivery, [self._parked(delivery, None, attempts, f"cannot build the message: {exc}")])
            return
        try:
            refused = self._send(transport, envelope) or {}
        except TransientError as exc:
            self._move(delivery, [self._retry(delivery, mail, attempts, exc.reason, recipients)])
            return
        except DeliveryError as exc:
            self._move(delivery, [self._parked(delivery, mail, attempts, exc.reason, recipients)])
            return
        if refused:
            self._log(outcomes.SENT, mail, f"to all but {len(refused)} refused")
            self._move(delivery, self._refused(delivery, mail, attempts, recipients, refused))
            return
        self._log(outcomes.SENT, mail, "")
        self.on_outcome(outcomes.SENT, mail, "")
        self.on_accepted(headers)
        delivery.publish(outcomes.result(mail.event_id, outcomes.SENT, message_id=mail.message_id,
                                         sender=mail.sender, recipient=mail.to, attempts=attempts))
        delivery.ack()

    def _send(self, transport: Transport, envelope: Envelope) -> Mapping[str, str] | None:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.retry_attempts) | stop_after_delay(self.retry_seconds),
            wait=wait_random_exponential(multiplier=0.2, max=2.0),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return transport.send(envelope)
        return None

    # -- when it did not go --------------------------------------------------------------
    def _refused(self, delivery: Delivery, mail: Mail, attempts: int, recipients: list[str],
                 refused: Mapping[str, str]) -> list[Message]:
        """Some recipients refused, the others accepted: park the 5xx ones, retry the 4xx ones."""
        permanent = [r for r in recipients if r in refused and refused[r][:1] == "5"]
        transient = [r for r in recipients if r in refused and r not in permanent]
        messages = []
        if permanent:
            reason = "recipient refused: " + "; ".join(f"{r}: {refused[r]}" for r in permanent)
            messages.append(self._parked(delivery, mail, attempts, reason, permanent))
        if transient:
            reason = "recipient refused: " + "; ".join(f"{r}: {refused[r]}" for r in transient)
            messages.append(self._retry(delivery, mail, attempts, reason, transient))
        return messages

    def _retry(self, delivery: Delivery, mail: Mail, attempts: int, reason: str, recipients: list[str]) -> Message:
        """The copy for the next retry tier, or for the parking lot once the tiers are spent."""
        tier = attempts - 1
        if tier >= len(self.retry_delays_ms):
            return self._parked(delivery, mail, attempts, f"still failing after {attempts} attempt(s): {reason}",
                                recipients)
        delay = self.retry_delays_ms[tier]
        self._log(outcomes.RETRYING, mail, f"in {topo.duration_label(delay)}: {reason}")
        self.on_outcome(outcomes.RETRYING, mail, reason)
        delivery.publish(outcomes.result(mail.event_id, outcomes.RETRYING, message_id=mail.message_id,
                                         sender=mail.sender, recipient=mail.to, attempts=attempts,
                                         error=outcomes.one_line(reason)))
        headers = self._attempt_headers(delivery, attempts, reason, recipients)
        return Message(topo.MAIL_EXCHANGE, topo.retry_key(delay), delivery.body, delivery.message_id, headers)

    def _parked(self, delivery: Delivery, mail: Mail | None, attempts: int, reason: str,
                recipients: list[str] | None = None) -> Message:
        """The copy for ``omero.mail.failed``, with why, how often and when."""
        self._log(outcomes.FAILED, mail, reason)
        self.on_outcome(outcomes.FAILED, mail, reason)
        event_id = mail.event_id if mail else str(delivery.headers.get(outcomes.EVENT_ID, ""))
        if event_id:
            delivery.publish(outcomes.result(event_id, outcomes.FAILED, message_id=delivery.message_id,
                                             sender=mail.sender if mail else "", recipient=mail.to if mail else "",
                                             attempts=attempts, error=outcomes.one_line(reason)))
        headers = self._attempt_headers(delivery, attempts, reason, recipients)
        headers[outcomes.FROM_QUEUE] = topo.OUTBOX_QUEUE
        return outcomes.parked(delivery.body, delivery.message_id, topo.FAILED_KEY, headers, reason)

    @staticmethod
    def _move(delivery: Delivery, messages: list[Message]) -> None:
        """Publish the copies; ack the original once all are confirmed, else give it back."""
        delivery.publish_many(messages, lambda reasons: delivery.nack(True) if any(reasons) else delivery.ack())

    def _attempt_headers(self, delivery: Delivery, attempts: int, reason: str,
                         recipients: list[str] | None) -> dict:
        headers = {k: v for k, v in delivery.headers.items() if k not in outcomes.DEAD_LETTER_HEADERS}
        now = outcomes.now_iso()
        headers.setdefault(outcomes.FIRST_ATTEMPT, now)
        headers[outcomes.LAST_ATTEMPT] = now
        headers[outcomes.ATTEMPTS] = attempts
        headers[outcomes.REASON] = outcomes.one_line(reason)
        if recipients is not None:
            headers[outcomes.RECIPIENTS] = list(recipients)
        return headers

    def _log(self, outcome: str, mail: Mail | None, detail: str) -> None:
        if mail is None:
            log.warning("email %s: %s", outcome, detail)
            return
        to = mail.to if self.show_addresses else mask(mail.to)
        level = logging.INFO if outcome == outcomes.SENT else logging.WARNING
        log.log(level, "email %s event=%s sender=%s message_id=%s to=%s%s", outcome, mail.event_id, mail.sender,
                mail.message_id, to, f" ({outcomes.one_line(detail, 300)})" if detail else "",
                extra={"fields": {"outcome": outcome, "event_id": mail.event_id, "sender": mail.sender,
                                  "message_id": mail.message_id, "recipient": to}})
