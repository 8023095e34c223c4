"""The mail senders: which events each one answers, whom it mails, and what it says.

One class per OMERO sender (REFERENCE.md §2), named as in OMERO. A sender is plain
configuration plus two pure functions, ``recipients(event, directory)`` and the text of
the mail, so matching and resolving are tested without a broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.schemas import Event

from .directory import Directory, Experimenter, admins

SUBJECT_PREFIX = "[OMERO] "
DEFAULT_BODY = "Automated email sent by the OMERO server.\n"


@dataclass(frozen=True)
class MailSender:
    """A configured sender (one bean of the XML). Subclasses say what and to whom."""

    id: str
    subject_prefix: str = SUBJECT_PREFIX
    default_body: str = DEFAULT_BODY
    #: Which event types this sender answers.
    event_types: tuple[str, ...] = ()
    description: str = ""

    def applies_to(self, event: Event) -> bool:
        return event.type in self.event_types

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        raise NotImplementedError

    def subject_template(self) -> str:
        """The subject after the prefix, as ``omero-mail senders`` shows it."""
        raise NotImplementedError

    def subject(self, event: Event) -> str:
        return self.subject_prefix + self.subject_template()

    def body(self, event: Event) -> str:
        return self.default_body

    def describe_recipients(self) -> str:
        """For ``omero-mail senders``: whom it mails, in words."""
        return ""


@dataclass(frozen=True)
class ServerUpMailSender(MailSender):
    event_types: tuple[str, ...] = ("server.startup",)

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        return admins(directory)

    def subject_template(self) -> str:
        return "Server started"

    def describe_recipients(self) -> str:
        return "members of group system"


@dataclass(frozen=True)
class ServerDownMailSender(MailSender):
    event_types: tuple[str, ...] = ("server.shutdown",)

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        return admins(directory)

    def subject_template(self) -> str:
        return "Server shutdown"

    def describe_recipients(self) -> str:
        return "members of group system"


#: Sender classes by the names the XML may use (ours and OMERO's Java class names).
SENDER_CLASSES: dict[str, type[MailSender]] = {
    "ServerUpMailSender": ServerUpMailSender,
    "ServerDownMailSender": ServerDownMailSender,
}
