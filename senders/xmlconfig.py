"""Load the active mail senders from the ``*.xml`` files of the senders directory.

As in OMERO, senders ship in a ``.example`` file and are switched on by copying it to a
name ending in ``.xml``; a sender left out is off; several files combine. A file is in
our format (``<mail-senders>``) or is OMERO's own Spring file (``<beans>``, see
``spring.py``); both may sit in the same directory. Files are parsed with defusedxml
(no entities, no external references) and every error names the file, the line and the
sender. ``${name.with.dots}`` in a value is an OMERO property, resolved here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .rules import MailSender, make_sender

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


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _property_value(element) -> str:
    if "value" in element.attrib:
        return element.get("value")
    for child in element:
        if _local(child.tag) == "value":
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


def build(path: Path, element, class_name: str, bean: str, options: dict[str, str],
          properties: Mapping[str, str]) -> MailSender:
    """The sender of one bean, or a SenderConfigError naming file, line, bean and reason."""
    if options.get("enabled", "").strip() == GLOBAL_SWITCH:
        options = {**options, "enabled": "true"}
    try:
        resolved = {name: resolve_properties(value, properties) for name, value in options.items()}
        return make_sender(class_name, bean, resolved)
    except ValueError as exc:
        raise SenderConfigError(path, line_of(element), bean, str(exc)) from None


def load_ours(path: Path, root, properties: Mapping[str, str]) -> list[MailSender]:
    senders = []
    for element in root:
        if _local(element.tag) != "sender":
            raise SenderConfigError(path, line_of(element), None,
                                    f"unknown element <{_local(element.tag)}> (expected <sender>)")
        bean = element.get("id")
        if not bean:
            raise SenderConfigError(path, line_of(element), None, "a <sender> needs an id")
        options: dict[str, str] = {}
        for prop in element:
            if _local(prop.tag) != "property" or not prop.get("name"):
                raise SenderConfigError(path, line_of(prop), bean,
                                        f"unknown element <{_local(prop.tag)}> (expected <property name=...>)")
            if prop.get("name") in options:
                raise SenderConfigError(path, line_of(prop), bean, f"property {prop.get('name')!r} given twice")
            if "ref" in prop.attrib:
                raise SenderConfigError(path, line_of(prop), bean, f"property {prop.get('name')!r}: ref= has no "
                                        "meaning in this format (give a value)")
            options[prop.get("name")] = _property_value(prop)
        senders.append(build(path, element, element.get("class", ""), bean, options, properties))
    return senders


def load_file(path: Path, properties: Mapping[str, str] | None = None) -> list[MailSender]:
    from .spring import load_spring

    properties = properties or {}
    root = parse_xml(path)
    if _local(root.tag) == "mail-senders":
        return load_ours(path, root, properties)
    if _local(root.tag) == "beans":
        return load_spring(path, root, properties)
    raise SenderConfigError(path, line_of(root), None,
                            f"unknown root element <{_local(root.tag)}> (expected <mail-senders> or Spring's <beans>)")


def sender_files(directory: str | Path) -> list[Path]:
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".xml" and p.is_file())


def load_senders(directory: str | Path, files: Iterable[Path] | None = None,
                 properties: Mapping[str, str] | None = None) -> list[MailSender]:
    """Every sender of every ``*.xml`` file in ``directory``; ids must be unique."""
    senders: list[MailSender] = []
    seen: dict[str, Path] = {}
    for path in files if files is not None else sender_files(directory):
        for sender in load_file(path, properties):
            if sender.id in seen:
                raise SenderConfigError(path, None, sender.id, f"defined again (first in {seen[sender.id]})")
            seen[sender.id] = path
            senders.append(sender)
    return senders
