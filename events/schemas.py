"""The event contract (README, "How it works"): the envelope and each type's data.

An OMERO-side hook publishes these; the rules stage loads them. Loading either returns
an :class:`Event` or raises :class:`InvalidEvent` with a one-line reason, which is what
the parking lot records. Extra fields are kept, so newer publishers stay readable.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate


class InvalidEvent(ValueError):
    """An event that cannot be handled; ``str()`` is the one-line reason."""


class _Data(Schema):
    class Meta:
        unknown = INCLUDE


class ServerData(_Data):
    server = fields.String()


class LoginFailedData(_Data):
    user = fields.String(required=True, validate=validate.Length(min=1))
    remote_addr = fields.String(allow_none=True)


class ObjectData(_Data):
    """An OMERO object inserted, updated or deleted: one ``eventlog`` row."""

    object_class = fields.String(required=True, validate=validate.Length(min=1))
    object_id = fields.Integer(required=True, strict=True)
    actor_id = fields.Integer(strict=True, allow_none=True)
    name = fields.String(allow_none=True)


class CommentAddedData(_Data):
    comment_id = fields.Integer(required=True, strict=True)
    image_id = fields.Integer(required=True, strict=True)
    image_owner_id = fields.Integer(required=True, strict=True)
    commenter_id = fields.Integer(required=True, strict=True)
    text = fields.String(allow_none=True)
    image_name = fields.String(allow_none=True)


class AdminBroadcastData(_Data):
    subject = fields.String(required=True)
    body = fields.String(required=True)
    html = fields.String(allow_none=True)
    everyone = fields.Boolean()
    inactive = fields.Boolean()
    user_ids = fields.List(fields.Integer(strict=True))
    user_names = fields.List(fields.String())
    group_ids = fields.List(fields.Integer(strict=True))
    group_names = fields.List(fields.String())
    cc = fields.List(fields.String())
    bcc = fields.List(fields.String())
    requested_by = fields.String(allow_none=True)


class WebErrorData(_Data):
    status = fields.Integer(required=True, strict=True, validate=validate.OneOf([404, 500]))
    method = fields.String(required=True)
    path = fields.String(required=True)
    url = fields.String(allow_none=True)
    referer = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    remote_addr = fields.String(allow_none=True)
    exception = fields.String(allow_none=True)
    traceback = fields.String(allow_none=True)
    request = fields.String(allow_none=True)
    #: The subject (before OMERO.web's prefix) and body Django would have mailed.
    subject = fields.String(allow_none=True)
    body = fields.String(allow_none=True)


#: Routing key (= type) -> schema of ``data``. The single list of event types.
DATA_SCHEMAS: dict[str, type[Schema]] = {
    "server.startup": ServerData,
    "server.shutdown": ServerData,
    "login.failed": LoginFailedData,
    "object.created": ObjectData,
    "object.updated": ObjectData,
    "object.deleted": ObjectData,
    "comment.added": CommentAddedData,
    "admin.broadcast": AdminBroadcastData,
    "web.error": WebErrorData,
}
EVENT_TYPES = tuple(DATA_SCHEMAS)
_DATA_LOADERS = {name: schema() for name, schema in DATA_SCHEMAS.items()}


class EnvelopeSchema(Schema):
    class Meta:
        unknown = INCLUDE

    id = fields.UUID(required=True)
    type = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    source = fields.String(load_default="")
    data = fields.Dict(keys=fields.String(), load_default=dict)


_ENVELOPE = EnvelopeSchema()


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    occurred_at: datetime
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    #: Envelope fields this version does not know, kept for forward compatibility.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "source": self.source,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


def _first_error(messages: Any, path: str = "") -> str:
    """Flatten marshmallow's nested messages to ``field: reason``."""
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        return _first_error(messages[0], path)
    return f"{path}: {messages}" if path else str(messages)


#: A JSON escape of a UTF-16 surrogate: the only way text that UTF-8 cannot encode gets into a
#: decoded body, so only a body holding one is walked for it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _uncarried_text(value: Any, path: str) -> str | None:
    """Where ``value`` holds text no mail can carry (a lone UTF-16 surrogate), as the reason; else None.

    JSON allows ``"\\ud800"`` alone, but UTF-8 cannot encode it: such text would crash the
    rules stage when the mail is serialised, so the event is refused where it enters.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{path}: text a mail cannot carry (lone UTF-16 surrogate "
                    f"{ascii(value[exc.start])} at character {exc.start})")
        return None
    items: Any = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        # The reason is a header of the parked copy: a bad key is shown escaped, never as itself.
        shown = key.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(key, str) else key
        where = f"{path}.{shown}" if path else str(shown)
        found = _uncarried_text(key, where + " (the name)") if isinstance(key, str) else None
        found = found or _uncarried_text(item, where)
        if found:
            return found
    return None


def load_event(payload: bytes | str | dict) -> Event:
    """Validate a published event; raise :class:`InvalidEvent` with the reason."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        walk = _SURROGATE_ESCAPE.search(payload) is not None
    else:
        # Text given as such (not decoded from bytes) may hold a surrogate itself, unescaped.
        walk = True
    try:
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise InvalidEvent(f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        uncarried = _uncarried_text(payload, "") if walk else None
    except RecursionError:
        raise InvalidEvent("body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise InvalidEvent(f"body must be a JSON object, not {type(payload).__name__}")
    if uncarried:
        raise InvalidEvent(uncarried)
    try:
        envelope = _ENVELOPE.load(payload)
    except ValidationError as exc:
        raise InvalidEvent(_first_error(exc.messages)) from None
    kind = envelope["type"]
    loader = _DATA_LOADERS.get(kind)
    if loader is None:
        raise InvalidEvent(f"type: unknown event type {kind[:80]!r}")
    try:
        data = loader.load(envelope["data"])
    except ValidationError as exc:
        raise InvalidEvent(_first_error(exc.messages, "data")) from None
    return Event(
        id=str(envelope["id"]),
        type=kind,
        occurred_at=envelope["occurred_at"],
        source=envelope["source"],
        data=data,
        extra={k: v for k, v in envelope.items() if k not in _ENVELOPE.fields},
    )


def new_event(kind: str, data: dict[str, Any] | None = None, source: str = "", event_id: str | None = None) -> Event:
    """Make and validate an event for publishing (a fresh id unless given, ``occurred_at`` now)."""
    payload = {
        "id": event_id or str(uuid.uuid4()),
        "type": kind,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "source": source,
        "data": data or {},
    }
    return load_event(payload)
