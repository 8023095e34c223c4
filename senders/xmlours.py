"""Our own senders format: ``<mail-senders>`` of ``<sender id class>`` with ``<property name value>``.

Flat on purpose: one element per sender, OMERO's property names, no inheritance and no
references, so a file reads as the list of rules it is (``etc/mail-senders.example``
documents every sender and option). A collection, such as ``onSpecificUsers``, is one
comma-separated value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .rules import MailSender
from .xmlread import SenderConfigError, build, line_of, local, property_value

ROOT = "mail-senders"


def load_ours(path: Path, root, properties: Mapping[str, str]) -> list[MailSender]:
    senders = []
    for element in root:
        if local(element.tag) != "sender":
            raise SenderConfigError(path, line_of(element), None,
                                    f"unknown element <{local(element.tag)}> (expected <sender>)")
        bean = element.get("id")
        if not bean:
            raise SenderConfigError(path, line_of(element), None, "a <sender> needs an id")
        senders.append(build(path, element, element.get("class", ""), bean, _options(path, element, bean),
                             properties))
    return senders


def _options(path: Path, element, bean: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for prop in element:
        name = prop.get("name")
        if local(prop.tag) != "property" or not name:
            raise SenderConfigError(path, line_of(prop), bean,
                                    f"unknown element <{local(prop.tag)}> (expected <property name=...>)")
        if name in options:
            raise SenderConfigError(path, line_of(prop), bean, f"property {name!r} given twice")
        if "ref" in prop.attrib:
            raise SenderConfigError(path, line_of(prop), bean, f"property {name!r}: ref= has no "
                                    "meaning in this format (give a value)")
        options[name] = property_value(prop)
    return options
