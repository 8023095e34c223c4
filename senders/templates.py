"""Subjects and bodies as templates over an event's fields, rendered safely.

A template is plain text with ``${field}`` markers. Rendering is one regular-expression
substitution over a flat dict of strings: there is no attribute access, no indexing, no
format spec and no second pass over substituted values, so a template (or a value an
event carries) can never reach Python objects or the file system.

The fields are the event's envelope (``event_id``, ``event_type``, ``occurred_at``,
``source``), its data fields (``omero-mail publish --help`` lists them: ``user``,
``object_id``, ...), and a few a sender adds (``object_type``, ``action``). A field a template names must be one of
these for every event the sender answers, checked when the file is loaded; an optional
field an event leaves out renders as the empty string.

Names with a dot (``${omero.mail.config}``) are OMERO properties, not event fields: the
XML loaders resolve those when they read the file.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from events.schemas import DATA_SCHEMAS, Event

FIELD = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENVELOPE_FIELDS = frozenset({"event_id", "event_type", "occurred_at", "source"})
_LINE_BREAKS = re.compile(r"[\r\n]+")


class TemplateError(ValueError):
    """A template names a field the sender's events do not have."""


def known_fields(event_types: Iterable[str], extra: Iterable[str] = ()) -> frozenset[str]:
    """The fields every one of ``event_types`` offers, plus the sender's own."""
    names = None
    for kind in event_types:
        own = frozenset(DATA_SCHEMAS[kind]().fields)
        names = own if names is None else names & own
    return ENVELOPE_FIELDS | (names or frozenset()) | frozenset(extra)


def check(template: str, fields: frozenset[str], what: str) -> None:
    unknown = sorted({name for name in FIELD.findall(template) if name not in fields})
    if unknown:
        raise TemplateError(f"{what} uses unknown field(s) {', '.join('${' + n + '}' for n in unknown)}; "
                            f"known: {', '.join(sorted(fields))}")


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple)):
        return ""
    return str(value)


def event_fields(event: Event) -> dict[str, str]:
    """The flat dict of strings a template sees (nested values are left out)."""
    fields = {name: _text(value) for name, value in event.data.items()}
    fields.update(event_id=event.id, event_type=event.type, occurred_at=event.occurred_at.isoformat(),
                  source=event.source or "")
    return fields


def render(template: str, fields: Mapping[str, str], one_line: bool = False, keep_missing: bool = False) -> str:
    """Substitute ``${field}``; ``one_line`` folds line breaks in values (for subjects).

    ``keep_missing`` leaves the markers of absent fields, to show a template half-filled.
    """
    if "${" not in template:
        return template

    def value(match: re.Match) -> str:
        text = fields.get(match.group(1), match.group(0) if keep_missing else "")
        return _LINE_BREAKS.sub(" ", text) if one_line else text

    return FIELD.sub(value, template)
