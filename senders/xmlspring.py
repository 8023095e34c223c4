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

``onSpecificUsers`` is a ``Set<String>`` in OMERO (``FailedLoginMailSender.
setOnSpecificUsers(Set<String>)``). Spring fills it from a ``<set>`` or ``<list>`` of
``<value>``s, each taken as written. A plain ``value="root,alice"`` is not split: OMERO's
contexts register no ConversionService, so Spring 4.3 (OMERO's) converts with its default
``CustomCollectionEditor``, which makes the whole text one element (``TypeConverterDelegate``
splits on commas only for ``Class`` and enum elements). OMERO then watches one user named
``root,alice``, that is nobody, and so does this loader; our own format is the one where
a comma separates names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping
from xml.etree.ElementTree import Element

from .rules import MailSender, OptionValue
from .xmlread import SenderConfigError, build, line_of, local, property_value

log = logging.getLogger(__name__)

ROOT = "beans"

#: OMERO's internal services a sender bean is wired to; meaningless here.
IGNORED_REFS = frozenset({"executor", "queryService", "mailUtil", "roles"})
#: The inner bean OMERO's ServerUp/DownMailSender take as their constructor argument.
INNER_SENDER_CLASS = "ome.services.mail.MailSender"
TAKES_INNER_SENDER = ("ServerUpMailSender", "ServerDownMailSender")
#: Properties whose OMERO setter takes a ``Set<String>``; every other one takes one value.
SET_PROPERTIES = frozenset({"onSpecificUsers"})
#: The one ``value-type`` of a ``<set>`` that a ``Set<String>`` can hold.
STRING_TYPE = "java.lang.String"


class _Bean:
    """One ``<bean>`` element with its ``parent`` chain resolved."""

    def __init__(self, path: Path, element, beans: dict, chain: tuple[str, ...] = ()):
        self.path, self.element = path, element
        self.id = element.get("id") or (chain[-1] if chain else None)
        parent_name = element.get("parent")
        inherited: dict[str, OptionValue] = {}
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
        self.options: dict[str, OptionValue] = {**inherited, **self.own_options(beans, chain)}

    def fail(self, reason: str, element=None):
        raise SenderConfigError(self.path, line_of(element if element is not None else self.element), self.id, reason)

    def own_options(self, beans: dict, chain: tuple[str, ...]) -> dict[str, OptionValue]:
        options: dict[str, OptionValue] = {}
        for child in self.element:
            tag = local(child.tag)
            if tag == "property":
                self.add_property(child, options)
            elif tag == "constructor-arg":
                options.update(self.inner_sender(child, beans, chain))
            elif tag != "description":
                self.fail(f"unknown element <{tag}> in a bean", child)
        return options

    def add_property(self, prop, options: dict[str, OptionValue]) -> None:
        name = prop.get("name")
        if not name:
            self.fail("a <property> needs a name", prop)
        if "ref" in prop.attrib or any(local(c.tag) == "ref" for c in prop):
            if name not in IGNORED_REFS:
                self.fail(f"property {name!r} refers to another bean, which omero-mail cannot follow", prop)
            return
        children = [c for c in prop if local(c.tag) != "description"]
        collections = [c for c in children if local(c.tag) in ("set", "list")]
        if collections:
            options[name] = self.collection(name, prop, collections[0], alone=len(children) == 1)
            return
        unknown = [local(c.tag) for c in children if local(c.tag) != "value"]
        if unknown:
            self.fail(f"property {name!r}: <{unknown[0]}> is not supported (give a value)", prop)
        value = property_value(prop)
        if name in SET_PROPERTIES and "," in value:
            log.warning("%s:%s: sender %r: %s=%r is one user name, as in OMERO (Spring does not split it); "
                        "give a <set> of <value>s to watch several users", self.path, line_of(prop), self.id,
                        name, value)
        options[name] = (value,) if name in SET_PROPERTIES else value

    def collection(self, name: str, prop, element, alone: bool) -> tuple[str, ...]:
        """The ``<value>``s of a ``<set>`` or ``<list>``, as Spring hands them to the setter."""
        tag = local(element.tag)
        if name not in SET_PROPERTIES:
            self.fail(f"property {name!r} takes one value in OMERO, not a <{tag}>", element)
        if not alone or "value" in prop.attrib:
            self.fail(f"property {name!r}: give one <{tag}> and nothing beside it", prop)
        extra = sorted(set(element.attrib) - {"value-type"})
        if extra or element.get("value-type", STRING_TYPE) != STRING_TYPE:
            what = f"{extra[0]}=" if extra else f"value-type={element.get('value-type')!r}"
            self.fail(f"property {name!r}: <{tag} {what}> is not supported (a set of names)", element)
        values = []
        for item in element:
            if local(item.tag) != "value":
                self.fail(f"property {name!r}: a <{tag}> of <value>s only, not <{local(item.tag)}>", item)
            values.append(item.text or "")
        return tuple(values)

    def inner_sender(self, arg, beans: dict, chain: tuple[str, ...]) -> dict[str, OptionValue]:
        inner = [c for c in arg if local(c.tag) == "bean"]
        if len(inner) != 1 or len(arg) != 1 or arg.attrib:
            self.fail("constructor-arg: expected exactly one inner <bean> (the MailSender)", arg)
        bean = _Bean(self.path, inner[0], beans, chain + ((self.id or ""),))
        if bean.class_name != INNER_SENDER_CLASS:
            self.fail(f"constructor-arg: the inner bean must be a {INNER_SENDER_CLASS}, "
                      f"not {bean.class_name or 'a bean without class'}", inner[0])
        return bean.options


def load_spring(path: Path, root, properties: Mapping[str, str]) -> list[MailSender]:
    beans: dict[str, Element] = {}
    for element in root:
        tag = local(element.tag)
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
        has_inner = any(local(c.tag) == "constructor-arg" for c in element)
        if has_inner and bean.class_name.rpartition(".")[2] not in TAKES_INNER_SENDER:
            bean.fail(f"{bean.class_name} takes no constructor-arg")
        senders.append(build(path, element, bean.class_name, bean_id, bean.options, properties))
    return senders
