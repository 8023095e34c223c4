"""Load the active mail senders from the ``*.xml`` files of the senders directory.

As in OMERO, senders ship in a ``.example`` file and are switched on by copying it to a
name ending in ``.xml``; a sender left out is off; several files combine. Files are
parsed with defusedxml (no entities, no external references) and every error names the
file, the line and the sender.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from .rules import SENDER_CLASSES, MailSender

MAX_FILE_BYTES = 1_000_000


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
        raise SenderConfigError(path, None, None, f"refused: {type(exc).__name__} (entities and external references are not allowed)") from None
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


def load_ours(path: Path, root) -> list[MailSender]:
    senders = []
    for element in root:
        if _local(element.tag) != "sender":
            raise SenderConfigError(path, getattr(element, "sourceline", None), None,
                                    f"unknown element <{_local(element.tag)}> (expected <sender>)")
        senders.append(build_sender(path, element))
    return senders


_OPTION_NAMES = {"subjectPrefix": "subject_prefix", "defaultBody": "default_body"}


def build_sender(path: Path, element) -> MailSender:
    line = getattr(element, "sourceline", None)
    bean = element.get("id")
    if not bean:
        raise SenderConfigError(path, line, None, "a <sender> needs an id")
    class_name = element.get("class", "").rpartition(".")[2]
    cls = SENDER_CLASSES.get(class_name)
    if cls is None:
        raise SenderConfigError(path, line, bean, f"unknown sender class {element.get('class')!r}")
    options = {}
    for prop in element:
        if _local(prop.tag) != "property" or not prop.get("name"):
            raise SenderConfigError(path, getattr(prop, "sourceline", line), bean,
                                    f"unknown element <{_local(prop.tag)}> (expected <property name=...>)")
        name = prop.get("name")
        if name not in _OPTION_NAMES:
            raise SenderConfigError(path, getattr(prop, "sourceline", line), bean,
                                    f"{class_name} has no property {name!r}")
        options[_OPTION_NAMES[name]] = _property_value(prop)
    return cls(id=bean, **options)


def load_file(path: Path) -> list[MailSender]:
    root = parse_xml(path)
    if _local(root.tag) == "mail-senders":
        return load_ours(path, root)
    raise SenderConfigError(path, getattr(root, "sourceline", None), None,
                            f"unknown root element <{_local(root.tag)}> (expected <mail-senders>)")


def sender_files(directory: str | Path) -> list[Path]:
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".xml" and p.is_file())


def load_senders(directory: str | Path, files: Iterable[Path] | None = None) -> list[MailSender]:
    """Every sender of every ``*.xml`` file in ``directory``; ids must be unique."""
    senders: list[MailSender] = []
    seen: dict[str, Path] = {}
    for path in files if files is not None else sender_files(directory):
        for sender in load_file(path):
            if sender.id in seen:
                raise SenderConfigError(path, None, sender.id, f"defined again (first in {seen[sender.id]})")
            seen[sender.id] = path
            senders.append(sender)
    return senders
