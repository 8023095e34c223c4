"""What both sender-file formats share: safe parsing, errors that point, property values.

Files are parsed with defusedxml (no entities, no external references) and every element
keeps its line, so every :class:`SenderConfigError` names the file, the line and the
sender. ``${name.with.dots}`` in a value is an OMERO property, resolved when the sender
is built. The format modules (``xmlours.py``, ``xmlspring.py``) turn elements into OMERO
property names and values; :func:`build` turns those into a sender.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .rules import MailSender, OptionValue, make_sender

MAX_FILE_BYTES = 1_000_000
#: ``${omero.mail.config}``: a property (dotted name); ``${user}`` is a template field.
PROPERTY = re.compile(r"\$\{([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)\}")
#: OMERO's own switch: the rules stage applies it to every event sender at once.
GLOBAL_SWITCH = "${omero.mail.config}"


class SenderConfigError(Exception):
    """A senders file cannot be used; ``str()`` says file:line, the sender and why."""

    def __init__(self, path: str | Path, line: int | None, bean: str | None, reason: str):
        self.path, self.line, self.bean, self.reason = str(path), line, bean, reason
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {'sender ' + repr(bean) + ': ' if bean else ''}{reason}")


class _LineParser(DefusedXMLParser):
    """defusedxml's parser, also recording each element's line for error messages."""

    def _start(self, *args, **kwargs):
        element = super()._start(*args, **kwargs)
        element.sourceline = self.parser.CurrentLineNumber
        return element


def parse_xml(path: Path):
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SenderConfigError(path, None, None, f"file larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise SenderConfigError(path, None, None, f"cannot read: {exc.strerror}") from None
    parser = _LineParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(data)
        return parser.close()
    except DefusedXmlException as exc:
        raise SenderConfigError(path, parser.parser.CurrentLineNumber, None,
                                f"refused: {type(exc).__name__} (entity declarations and external "
                                "references are not allowed)") from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise SenderConfigError(path, line, None, f"malformed XML: {exc}") from None


def local(tag: str) -> str:
    """The tag without its namespace: Spring's files declare one, ours need not."""
    return tag.rpartition("}")[2]


def property_value(element) -> str:
    """A ``<property>``'s text: its ``value=``, else its ``<value>`` child, else its own text."""
    if "value" in element.attrib:
        return element.get("value")
    for child in element:
        if local(child.tag) == "value":
            return child.text or ""
    return element.text or ""


def line_of(element) -> int | None:
    return getattr(element, "sourceline", None)


def resolve_properties(text: str, properties: Mapping[str, str]) -> str:
    """Replace ``${omero.x.y}`` by the property's value; ValueError for an unknown one."""
    def value(match: re.Match) -> str:
        if match.group(1) not in properties:
            raise ValueError(f"unknown property ${{{match.group(1)}}}")
        return properties[match.group(1)]

    return PROPERTY.sub(value, text)


def _resolve(value: OptionValue, properties: Mapping[str, str]) -> OptionValue:
    if isinstance(value, tuple):
        return tuple(resolve_properties(item, properties) for item in value)
    return resolve_properties(value, properties)


def build(path: Path, element, class_name: str, bean: str, options: Mapping[str, OptionValue],
          properties: Mapping[str, str]) -> MailSender:
    """The sender of one bean, or a SenderConfigError naming file, line, bean and reason."""
    if str(options.get("enabled", "")).strip() == GLOBAL_SWITCH:
        options = {**options, "enabled": "true"}
    try:
        resolved = {name: _resolve(value, properties) for name, value in options.items()}
        return make_sender(class_name, bean, resolved)
    except ValueError as exc:
        raise SenderConfigError(path, line_of(element), bean, str(exc)) from None
