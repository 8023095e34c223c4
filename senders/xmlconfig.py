"""Load the active mail senders from the ``*.xml`` files of the senders directory.

As in OMERO, senders ship in a ``.example`` file and are switched on by copying it to a
name ending in ``.xml``; a sender left out is off; several files combine. A file is in
our format (``<mail-senders>``, ``xmlours.py``) or is OMERO's own Spring file
(``<beans>``, ``xmlspring.py``); both may sit in the same directory. This module reads
each file (``xmlread.py``: defusedxml, errors naming file, line and sender) and hands
its root to the format's loader.

Where: ``omero.mail.senders.dir``, by default ``${OMERODIR}/etc/blitz``, where OMERO
keeps its own; with OMERODIR unset, ``etc/blitz`` under the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Mapping

from . import xmlours, xmlspring
from .rules import MailSender
from .xmlread import MAX_FILE_BYTES, SenderConfigError, line_of, local, parse_xml

__all__ = ["MAX_FILE_BYTES", "SenderConfigError", "active_senders", "load_file", "load_senders", "sender_files",
           "senders_dir"]

_UNSET_OMERODIR = "${OMERODIR}/"


class NoSenders(Exception):
    """The senders directory is missing, or has no active sender where one is needed."""


def senders_dir(value: str) -> Path:
    """The directory ``omero.mail.senders.dir`` names (relative to the working directory without OMERODIR)."""
    return Path(value[len(_UNSET_OMERODIR):] if value.startswith(_UNSET_OMERODIR) else value)

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


def active_senders(directory: Path, properties: Mapping[str, str], required: bool) -> list[MailSender]:
    """Every sender of ``directory``; NoSenders if it is missing, or if ``required`` and none is active."""
    if not directory.is_dir():
        raise NoSenders(f"senders directory {directory} does not exist (omero.mail.senders.dir, "
                        "by default $OMERODIR/etc/blitz)")
    files = sender_files(directory)
    senders = load_senders(directory, files, properties=properties)
    if required and not any(s.enabled for s in senders):
        raise NoSenders(f"no active sender in {directory} ({len(files)} .xml file(s)) while omero.mail.config "
                        "is true: copy a senders .example file there under a name ending in .xml")
    return senders
