"""The mail senders: which events each one answers, whom it mails, and what it says.

One class per OMERO sender (OMERO's ``ome.services.mail`` package; README, "Senders"),
named as in OMERO. A sender is plain
configuration plus two pure functions, ``recipients(event, directory)`` and the text of
the mail, so matching and resolving are tested without a broker.

Both XML formats (ours and OMERO's Spring beans) end in :func:`make_sender`, which takes
OMERO's property names (``subjectPrefix``, ``objectClass``, ``onSpecificUsers``, ...) as
strings (a tuple of strings for a Spring ``<set>``), so the two formats give the same
rules by construction. Over 300 lines for that reason: the sender classes and the table
of their OMERO property names are read together (a new property is a line in each).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Callable, ClassVar, Mapping

from events.schemas import Event

from . import templates
from .directory import Directory, Experimenter, admins
from .queries import Recipients, parse_recipients, recipients_of_query

#: A property's value as a loader hands it over: text, or the members of a collection.
OptionValue = str | tuple[str, ...]
SUBJECT_PREFIX = "[OMERO] "
DEFAULT_BODY = "Automated email sent by the OMERO server.\n"


@dataclass(frozen=True)
class MailSender:
    """A configured sender (one bean of the XML). Subclasses say what and to whom."""

    id: str
    subject_prefix: str = SUBJECT_PREFIX
    default_body: str = DEFAULT_BODY
    #: The subject after the prefix, and the body: templates; None means the sender's own text.
    subject_text: str | None = None
    body_text: str | None = None
    #: False when the XML switches this sender off (``enabled`` = false).
    enabled: bool = True
    #: Which event types this sender answers.
    event_types: tuple[str, ...] = ()

    #: Extra template fields this class adds to the event's own.
    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        known = templates.known_fields(self.event_types, self.EXTRA_FIELDS)
        for what, text in (("subjectPrefix", self.subject_prefix), ("subject", self.subject_template()),
                           ("defaultBody", self.default_body), ("body", self.body_template())):
            templates.check(text, known, what)

    def applies_to(self, event: Event) -> bool:
        return self.enabled and event.type in self.event_types

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        raise NotImplementedError

    def own_subject(self) -> str:
        raise NotImplementedError

    def own_body(self) -> str:
        return self.default_body

    def subject_template(self) -> str:
        """The subject after the prefix, before rendering."""
        return self.subject_text if self.subject_text is not None else self.own_subject()

    def body_template(self) -> str:
        return self.body_text if self.body_text is not None else self.own_body()

    def static_fields(self) -> dict[str, str]:
        """The template fields known without an event (the sender's own)."""
        return {}

    def fields(self, event: Event) -> dict[str, str]:
        return {**templates.event_fields(event), **self.static_fields()}

    def describe_subject(self) -> str:
        """For ``omero-mail senders``: the subject, event fields still as ``${...}``."""
        return templates.render(self.subject_prefix + self.subject_template(), self.static_fields(),
                                keep_missing=True)

    def subject(self, event: Event) -> str:
        return templates.render(self.subject_prefix + self.subject_template(), self.fields(event), one_line=True)

    def body(self, event: Event) -> str:
        return templates.render(self.body_template(), self.fields(event))

    def describe_recipients(self) -> str:
        """For ``omero-mail senders``: whom it mails, in words."""
        return ""


@dataclass(frozen=True)
class ServerUpMailSender(MailSender):
    event_types: tuple[str, ...] = ("server.startup",)

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        return admins(directory)

    def own_subject(self) -> str:
        return "Server started"

    def describe_recipients(self) -> str:
        return "members of group system"


@dataclass(frozen=True)
class ServerDownMailSender(ServerUpMailSender):
    event_types: tuple[str, ...] = ("server.shutdown",)

    def own_subject(self) -> str:
        return "Server shutdown"


@dataclass(frozen=True)
class FailedLoginMailSender(MailSender):
    """A failed password check for ``data.user``: the admins and/or the user, if watched."""

    event_types: tuple[str, ...] = ("login.failed",)
    contact_system: bool = False
    contact_user: bool = False
    on_all_users: bool = False
    on_specific_users: frozenset[str] = frozenset()

    def applies_to(self, event: Event) -> bool:
        return (super().applies_to(event)
                and (self.on_all_users or event.data.get("user") in self.on_specific_users))

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        found = list(admins(directory)) if self.contact_system else []
        if self.contact_user:
            user = directory.experimenter_by_name(event.data["user"])
            if user is not None:
                found.append(user)
        return found

    def own_subject(self) -> str:
        return "Login failed for '${user}'"

    def describe_recipients(self) -> str:
        who = [w for w, on in (("members of group system", self.contact_system), ("the user", self.contact_user)) if on]
        users = "any user" if self.on_all_users else ", ".join(sorted(self.on_specific_users)) or "no user"
        return f"{' and '.join(who) or 'nobody'} (on {users})"


#: OMERO's ObjectMailSender actions (eventlog.action) -> the event reporting each one.
EVENT_OF_ACTION = {"INSERT": "object.created", "UPDATE": "object.updated", "DELETE": "object.deleted"}
#: A new comment has an event of its own, which also names the commented image's owner.
COMMENT_CLASS = "ome.model.annotations.CommentAnnotation"


@cache
def model_classes() -> dict[str, str]:
    """OMERO's model classes (``senders/data/model-classes.txt``), full name by short name."""
    text = resources.files("senders").joinpath("data/model-classes.txt").read_text(encoding="utf-8")
    names = (line.strip() for line in text.splitlines())
    return {full.rpartition(".")[2]: full for full in names if full and not full.startswith("#")}


def model_class(name: str) -> str:
    """OMERO's full class name for ``Experimenter`` or ``ome.model.meta.Experimenter``."""
    known = model_classes()
    full = known.get(name.rpartition(".")[2])
    if full is None or ("." in name and name != full):
        candidates = list(known.values()) if "." in name else list(known)
        close = difflib.get_close_matches(name, candidates, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(f"unknown objectClass {name!r}: not one of OMERO's {len(known)} model classes "
                         f"(a short name such as Image, or the full ome.model.core.Image){hint}")
    return full


@dataclass(frozen=True)
class ObjectMailSender(MailSender):
    """An INSERT, UPDATE or DELETE of ``object_class``: object.created (comment.added for a
    comment), object.updated or object.deleted."""

    object_class: str = ""
    action: str = "INSERT"
    to: Recipients = field(default_factory=Recipients)

    EXTRA_FIELDS: ClassVar[tuple[str, ...]] = ("object_class", "object_type", "object_id", "action")

    def __post_init__(self) -> None:
        full = model_class(self.object_class)
        if self.action not in EVENT_OF_ACTION:
            raise ValueError(f"unknown action {self.action!r} (OMERO's are {', '.join(EVENT_OF_ACTION)})")
        kind = "comment.added" if (full, self.action) == (COMMENT_CLASS, "INSERT") else EVENT_OF_ACTION[self.action]
        if self.to.image_owner and kind != "comment.added":
            raise ValueError("the image owner is known only for CommentAnnotation, on INSERT (comment.added)")
        if not self.to:
            raise ValueError("ObjectMailSender needs a queryString (or recipients)")
        object.__setattr__(self, "object_class", full)
        object.__setattr__(self, "event_types", (kind,))
        super().__post_init__()

    @property
    def object_type(self) -> str:
        return self.object_class.rpartition(".")[2]

    def applies_to(self, event: Event) -> bool:
        if not super().applies_to(event):
            return False
        if event.type == "comment.added":
            return True
        published = event.data["object_class"]
        return published in (self.object_type, self.object_class)

    def static_fields(self) -> dict[str, str]:
        return {"object_class": self.object_class, "object_type": self.object_type, "action": self.action}

    def fields(self, event: Event) -> dict[str, str]:
        object_id = event.data["comment_id"] if event.type == "comment.added" else event.data["object_id"]
        return {**super().fields(event), "object_id": str(object_id)}

    def recipients(self, event: Event, directory: Directory) -> list[Experimenter]:
        return self.to.resolve(event, directory)

    def own_subject(self) -> str:
        return "${action} ${object_type} notification"

    def own_body(self) -> str:
        return "Modified objects:\nclass ${object_class}:${object_id} - ${action}\n"

    def describe_recipients(self) -> str:
        return str(self.to)


#: Sender classes by the names the XML may use (ours, and OMERO's without the package).
SENDER_CLASSES: dict[str, type[MailSender]] = {
    "ServerUpMailSender": ServerUpMailSender,
    "ServerDownMailSender": ServerDownMailSender,
    "FailedLoginMailSender": FailedLoginMailSender,
    "ObjectMailSender": ObjectMailSender,
}
OMERO_PACKAGE = "ome.services.mail"


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"expected true or false, not {value!r}")
    return text == "true"


def _names(value: OptionValue) -> frozenset[str]:
    """Our format's comma-separated omeNames, or a Spring ``<set>``'s members as written."""
    if isinstance(value, tuple):
        return frozenset(value)
    return frozenset(name.strip() for name in value.split(",") if name.strip())


#: Conversions that take a collection (a Spring ``<set>``) too, as the tables name them;
#: the others take one string.
COLLECTIONS: dict[Callable[[str], object], Callable[[OptionValue], object]] = {_names: _names}
#: OMERO's property names -> (attribute, conversion). Properties every sender takes:
COMMON_OPTIONS: dict[str, tuple[str, Callable[[str], object]]] = {
    "subjectPrefix": ("subject_prefix", str),
    "defaultBody": ("default_body", str),
    "subject": ("subject_text", str),
    "body": ("body_text", str),
    "enabled": ("enabled", _bool),
}
OPTIONS: dict[type[MailSender], dict[str, tuple[str, Callable[[str], object]]]] = {
    FailedLoginMailSender: {
        "contactSystem": ("contact_system", _bool),
        "contactUser": ("contact_user", _bool),
        "onAllUsers": ("on_all_users", _bool),
        "onSpecificUsers": ("on_specific_users", _names),
    },
    ObjectMailSender: {
        "objectClass": ("object_class", str.strip),
        "action": ("action", str.strip),
        "queryString": ("to", recipients_of_query),
        "recipients": ("to", parse_recipients),
    },
}


def sender_class(name: str) -> type[MailSender]:
    """``ObjectMailSender`` or ``ome.services.mail.ObjectMailSender``; ValueError otherwise."""
    package, _, short = name.rpartition(".")
    cls = SENDER_CLASSES.get(short)
    if cls is None or package not in ("", OMERO_PACKAGE):
        raise ValueError(f"unknown sender class {name!r} (known: {', '.join(SENDER_CLASSES)})")
    return cls


def make_sender(class_name: str, id: str, options: Mapping[str, OptionValue]) -> MailSender:
    """A sender from its class and OMERO-named string options; ValueError says why not."""
    cls = sender_class(class_name)
    table = {**COMMON_OPTIONS, **OPTIONS.get(cls, {})}
    values: dict[str, Any] = {}  # each attribute's own type, as its conversion returns it
    for name, raw in options.items():
        if name not in table:
            raise ValueError(f"{cls.__name__} has no property {name!r} (it has: {', '.join(table)})")
        attribute, convert = table[name]
        if attribute in values:
            raise ValueError(f"{name!r} repeats what another property of this sender already set")
        if isinstance(raw, tuple) and convert not in COLLECTIONS:
            raise ValueError(f"property {name!r} takes one value, not a collection")
        try:
            values[attribute] = convert(raw) if isinstance(raw, str) else COLLECTIONS[convert](raw)
        except ValueError as exc:
            raise ValueError(f"property {name!r}: {exc}") from None
    return cls(id=id, **values)
