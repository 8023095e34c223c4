"""OMERO's own senders file: the Spring beans of ``mail-senders.example``, read as rules.

An OMERO admin's ``etc/blitz/mail-senders.xml`` keeps working unchanged. What Spring
would do with it is reproduced only as far as the mail senders need: ``parent`` and
``abstract`` inheritance (the parent's properties first, the bean's own win), the
``constructor-arg`` inner ``MailSender`` bean of the server up and down senders,
``${...}`` property placeholders, and the known ``queryString``s. The ``ref=`` wiring
(``executor``, ``queryService``, ``mailUtil``, ``roles``) names OMERO's internal
services and means nothing outside OMERO, so it is accepted and ignored. Anything else
is refused with the file, the line, the bean id and the reason: a guessed rule could
mail the wrong people.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .rules import MailSender
from .xmlconfig import SenderConfigError, _local, _property_value, build, line_of

#: OMERO's internal services a sender bean is wired to; meaningless here.
IGNORED_REFS = frozenset({"executor", "queryService", "mailUtil", "roles"})
#: The inner bean OMERO's ServerUp/DownMailSender take as their constructor argument.
INNER_SENDER_CLASS = "ome.services.mail.MailSender"
TAKES_INNER_SENDER = ("ServerUpMailSender", "ServerDownMailSender")


class _Bean:
    """One ``<bean>`` element with its ``parent`` chain resolved."""

    def __init__(self, path: Path, element, beans: dict, chain: tuple[str, ...] = ()):
        self.path, self.element = path, element
        self.id = element.get("id") or (chain[-1] if chain else None)
        parent_name = element.get("parent")
        inherited: dict[str, str] = {}
        self.class_name = element.get("class", "")
        if parent_name:
            if parent_name in chain:
                self.fail(f"parent loop: {' -> '.join(chain + (parent_name,))}")
            parent = beans.get(parent_name)
            if parent is None:
                self.fail(f"parent bean {parent_name!r} is not defined in this file")
            resolved = _Bean(path, parent, beans, chain + (parent_name,))
            inherited = resolved.options
            self.class_name = self.class_name or resolved.class_name
        self.options = {**inherited, **self.own_options(beans, chain)}

    def fail(self, reason: str, element=None):
        raise SenderConfigError(self.path, line_of(element if element is not None else self.element), self.id, reason)

    def own_options(self, beans: dict, chain: tuple[str, ...]) -> dict[str, str]:
        options: dict[str, str] = {}
        for child in self.element:
            tag = _local(child.tag)
            if tag == "property":
                self.add_property(child, options)
            elif tag == "constructor-arg":
                options.update(self.inner_sender(child, beans, chain))
            elif tag != "description":
                self.fail(f"unknown element <{tag}> in a bean", child)
        return options

    def add_property(self, prop, options: dict[str, str]) -> None:
        name = prop.get("name")
        if not name:
            self.fail("a <property> needs a name", prop)
        if "ref" in prop.attrib or any(_local(c.tag) == "ref" for c in prop):
            if name not in IGNORED_REFS:
                self.fail(f"property {name!r} refers to another bean, which omero-mail cannot follow", prop)
            return
        unknown = [_local(c.tag) for c in prop if _local(c.tag) not in ("value", "description")]
        if unknown:
            self.fail(f"property {name!r}: <{unknown[0]}> is not supported (give a value)", prop)
        options[name] = _property_value(prop)

    def inner_sender(self, arg, beans: dict, chain: tuple[str, ...]) -> dict[str, str]:
        inner = [c for c in arg if _local(c.tag) == "bean"]
        if len(inner) != 1 or len(arg) != 1 or arg.attrib:
            self.fail("constructor-arg: expected exactly one inner <bean> (the MailSender)", arg)
        bean = _Bean(self.path, inner[0], beans, chain + ((self.id or ""),))
        if bean.class_name != INNER_SENDER_CLASS:
            self.fail(f"constructor-arg: the inner bean must be a {INNER_SENDER_CLASS}, "
                      f"not {bean.class_name or 'a bean without class'}", inner[0])
        return bean.options


def load_spring(path: Path, root, properties: Mapping[str, str]) -> list[MailSender]:
    beans: dict[str, object] = {}
    for element in root:
        tag = _local(element.tag)
        if tag == "description":
            continue
        if tag != "bean":
            raise SenderConfigError(path, line_of(element), None, f"unknown element <{tag}> (expected <bean>)")
        bean_id = element.get("id")
        if not bean_id:
            raise SenderConfigError(path, line_of(element), None, "a top-level <bean> needs an id")
        if bean_id in beans:
            raise SenderConfigError(path, line_of(element), bean_id, "bean id defined twice")
        beans[bean_id] = element
    senders = []
    for bean_id, element in beans.items():
        if element.get("abstract") == "true":
            continue
        bean = _Bean(path, element, beans)
        if not bean.class_name:
            bean.fail("a bean that is not abstract needs a class")
        has_inner = any(_local(c.tag) == "constructor-arg" for c in element)
        if has_inner and bean.class_name.rpartition(".")[2] not in TAKES_INNER_SENDER:
            bean.fail(f"{bean.class_name} takes no constructor-arg")
        senders.append(build(path, element, bean.class_name, bean_id, bean.options, properties))
    return senders
