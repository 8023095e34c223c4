"""Load the active mail senders from the ``*.xml`` files of the senders directory.

As in OMERO, senders ship in a ``.example`` file and are switched on by copying it to a
name ending in ``.xml``; a sender left out is off; several files combine. A file is in
our format (``<mail-senders>``, ``xmlours.py``) or is OMERO's own Spring file
(``<beans>``, ``xmlspring.py``); both may sit in the same directory. This module reads
each file (``xmlread.py``: defusedxml, errors naming file, line and sender) and hands
its root to the format's loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

from . import xmlours, xmlspring
from .rules import MailSender
from .xmlread import MAX_FILE_BYTES, SenderConfigError, line_of, local, parse_xml

__all__ = ["MAX_FILE_BYTES", "SenderConfigError", "load_file", "load_senders", "sender_files"]

#: Root element -> the loader of that format.
FORMATS: dict[str, Callable[[Path, object, Mapping[str, str]], list[MailSender]]] = {
    xmlours.ROOT: xmlours.load_ours,
    xmlspring.ROOT: xmlspring.load_spring,
}


def load_file(path: Path, properties: Mapping[str, str] | None = None) -> list[MailSender]:
    root = parse_xml(path)
    load = FORMATS.get(local(root.tag))
    if load is None:
        raise SenderConfigError(path, line_of(root), None, f"unknown root element <{local(root.tag)}> "
                                "(expected <mail-senders> or Spring's <beans>)")
    return load(path, root, properties or {})


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
