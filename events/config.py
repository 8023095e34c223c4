"""The properties omero-mail runs with, read the way OMERO reads them.

OMERO's names and defaults (``omero.mail.*``, as in OMERO's ``omero-common.properties``;
README, "Configuration") so an OMERO admin's ``bin/omero config set`` habits carry over.
Sources, later wins: built-in defaults, OMERO's ``etc/grid/config.xml`` (its active
profile), ``key=value`` files, then environment variables (``OMERO_MAIL_HOST`` for
``omero.mail.host``). ``${name}`` references between properties are expanded when a
value is read. These are the readers and the bag of text; ``events/settings.py`` turns
it into typed values, checked once at start. The table of defaults is ``events/defaults.py``.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, TypeVar

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

from . import values
from .defaults import DEFAULTS

log = logging.getLogger(__name__)
T = TypeVar("T")


HIDDEN = "********"
#: OMERO's config.xml is a few kilobytes; anything this large is not one.
MAX_OMERO_CONFIG_BYTES = 5_000_000
#: What the flood guard takes per event type (``omero.mail.flood.login.failed.threshold``).
FLOOD_FIELDS = ("window", "threshold", "key")
#: Keys known without a default: per event type, the flood guard's overrides. Event types
#: are dotted lower-case words.
FLOOD_TYPE_KEY = re.compile(r"omero\.mail\.flood\.(?P<type>[a-z]+(?:\.[a-z]+)+)\.(?P<field>window|threshold|key)")
_FLOOD_TYPE_ENV = re.compile(r"OMERO_MAIL_FLOOD_(?P<type>[A-Z]+(?:_[A-Z]+)+)_(?P<field>WINDOW|THRESHOLD|KEY)")
_REFERENCE = re.compile(r"\$\{([^}]+)\}")
#: Names under which a URL's query or a libpq DSN carries a secret.
_SECRET_NAMES = r"(?:ssl)?password|passwd|pwd|token|secret"
#: A URL's password, ``//user:PASSWORD@host`` with or without its scheme, up to the last ``@``
#: of the authority (as urllib reads it).
_URL_PASSWORD = re.compile(r"(?P<head>//[^:/?#@\s]*:)[^/?#\s]*(?P<tail>@)")
#: ``?password=PASSWORD&...`` in a URL's query.
_QUERY_SECRET = re.compile(rf"(?P<head>[?&;](?:{_SECRET_NAMES})=)[^&#\s]*", re.I)
#: ``password=PASSWORD`` or ``password='PASS WORD'`` in a libpq key=value DSN.
_DSN_SECRET = re.compile(rf"(?P<head>(?<![\w.?&;-])(?:{_SECRET_NAMES})\s*=\s*)(?:'(?:[^'\\]|\\.)*'|\S+)", re.I)


class ConfigError(ValueError):
    """A configuration source cannot be read, or a value cannot be used; the message names it."""


def is_secret(key: str) -> bool:
    """A key whose value is never shown, logged or put in an error (``omero.mail.password``, ``omero.db.pass``)."""
    return key.endswith((".password", ".pass", ".token", ".secret"))


def redact(text: str, hidden: str = HIDDEN) -> str:
    """Every password field of ``text`` hidden: a URL's (``amqp://u:pw@h``, ``?password=pw``) and a
    libpq DSN's (``password=pw``). Only the fields: the same text elsewhere (a role named as its
    password, as OMERO's default omero/omero) stays, so the message still says what went wrong.
    ``hidden`` is what stands in (OMERO.web's reports use Django's own)."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + hidden + m["tail"], text)
    text = _QUERY_SECRET.sub(lambda m: m["head"] + hidden, text)
    return _DSN_SECRET.sub(lambda m: m["head"] + hidden, text)


def env_name(key: str) -> str:
    """``omero.mail.queue.delivery-limit`` -> ``OMERO_MAIL_QUEUE_DELIVERY_LIMIT``.

    Letters, digits and underscores only, so a shell can export it and systemd's
    ``EnvironmentFile`` can set it.
    """
    return re.sub(r"[.-]", "_", key).upper()


def legacy_env_name(key: str) -> str:
    """The name read before ``-`` became ``_`` (``OMERO_MAIL_QUEUE_DELIVERY-LIMIT``), still read."""
    return key.replace(".", "_").upper()


def _event_types() -> tuple[str, ...]:
    from .schemas import EVENT_TYPES  # marshmallow's, loaded only when a key is looked up

    return EVENT_TYPES


def is_known(key: str) -> bool:
    """A property omero-mail reads: one with a default, or a flood override of an event type."""
    flood = FLOOD_TYPE_KEY.fullmatch(key)
    return key in DEFAULTS or (flood is not None and flood["type"] in _event_types())


def nearest_known(key: str) -> str | None:
    per_type = [f"omero.mail.flood.{kind}.{name}" for kind in _event_types() for name in FLOOD_FIELDS]
    found = difflib.get_close_matches(key, [*DEFAULTS, *per_type], n=1, cutoff=0.6)
    return found[0] if found else None


@dataclass(frozen=True)
class Secret:
    """A password: given, or read from a file each time it is used; never shown."""

    key: str
    value: str = field(default="", repr=False)
    file: str = ""

    def reveal(self) -> str:
        if self.file:
            try:
                return Path(self.file).read_text().rstrip("\r\n")
            except OSError as exc:
                raise ConfigError(f"cannot read {self.key}.file {self.file}: {exc.strerror}") from None
        return self.value


class Properties(Mapping[str, str]):
    """Effective properties: raw values by key, ``${...}`` expanded on read."""

    def __init__(self, values: Mapping[str, str] | None = None, origins: Mapping[str, str] | None = None):
        self._raw: dict[str, str] = dict(DEFAULTS)
        self._origins: dict[str, str] = {k: "default" for k in DEFAULTS}
        if values:
            self.update(values, origin="given")
        if origins:
            self._origins.update(origins)

    # Mapping protocol: expanded values
    def __getitem__(self, key: str) -> str:
        return self._expand(self._raw[key], seen=(key,))

    def __iter__(self):
        return iter(sorted(self._raw))

    def __len__(self) -> int:
        return len(self._raw)

    def update(self, values: Mapping[str, str], origin: str) -> None:
        for key, value in values.items():
            self._raw[key] = value
            self._origins[key] = origin

    def origin(self, key: str) -> str:
        return self._origins.get(key, "")

    def _expand(self, value: str, seen: tuple[str, ...]) -> str:
        def lookup(match: re.Match) -> str:
            name = match.group(1)
            if name in seen:
                raise ConfigError(f"property reference loop: {' -> '.join(seen + (name,))}")
            if name in self._raw:
                return self._expand(self._raw[name], seen + (name,))
            return os.environ.get(name, match.group(0))

        return _REFERENCE.sub(lookup, value)

    def typed(self, key: str, parse: Callable[..., T], *args) -> T:
        """``parse(self[key], *args)``; a value it refuses is one ConfigError line naming the
        key, the value, where it was set and the form expected."""
        text = self[key]
        try:
            return parse(text, *args)
        except ValueError as exc:
            where = {"environment": "the environment", "default": "the defaults", "given": "the given values",
                     "": "the given values"}.get(self.origin(key), self.origin(key))
            raise ConfigError(f"{key}={self.shown(key)!r} (from {where}): expected {exc}") from None

    def bool(self, key: str) -> bool:
        return self.typed(key, values.boolean)

    def shown(self, key: str) -> str:
        """The value as ``config list`` and logs may show it: secrets hidden."""
        if is_secret(key):
            return HIDDEN if self._raw.get(key) else ""
        return redact(self[key])

    def secret_ref(self, key: str) -> Secret:
        """A password, from ``KEY`` or from the file named by ``KEY.file`` (read when used)."""
        path = self._raw.get(key + ".file", "").strip()
        return Secret(key, file=self._expand(path, (key,))) if path else Secret(key, value=self.get(key, ""))

    def secret(self, key: str) -> str:
        return self.secret_ref(key).reveal()


def read_properties_file(path: str | os.PathLike) -> dict[str, str]:
    """``key=value`` lines as ``omero config load`` reads them; ``#`` starts a comment."""
    values: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(f"{path}:{number}: expected key=value, got {line[:60]!r}")
        values[key.strip()] = value.strip()
    return values


def read_omero_config_xml(path: str | os.PathLike, profile: str | None = None) -> dict[str, str]:
    """The active profile's properties from OMERO's ``etc/grid/config.xml``.

    The profile is ``OMERO_CONFIG`` if set, else the ``omero.config.profile`` of
    ``__ACTIVE__``, else ``default``.
    """
    try:
        if Path(path).stat().st_size > MAX_OMERO_CONFIG_BYTES:
            raise ConfigError(f"refusing OMERO config {path}: larger than {MAX_OMERO_CONFIG_BYTES} bytes")
        # OMERO never writes a DTD, so none is accepted: no entities, no external subset.
        tree = SafeElementTree.parse(str(path), forbid_dtd=True)
    except OSError as exc:
        raise ConfigError(f"cannot read OMERO config {path}: {exc.strerror}") from None
    except DefusedXmlException as exc:
        raise ConfigError(f"refusing OMERO config {path}: {type(exc).__name__} (unsafe XML)") from None
    except SafeElementTree.ParseError as exc:
        raise ConfigError(f"malformed OMERO config {path}: {exc}") from None
    profiles: dict[str, dict[str, str]] = {}
    for block in tree.iter("properties"):
        props = {name: p.get("value", "") for p in block.iter("property") if (name := p.get("name"))}
        profiles[block.get("id", "")] = props
    chosen = profile or os.environ.get("OMERO_CONFIG")
    if chosen:
        if chosen not in profiles:
            known = ", ".join(sorted(p for p in profiles if p != "__ACTIVE__")) or "none"
            raise ConfigError(f"OMERO_CONFIG={chosen!r}: no such profile in OMERO config {path} (it has: {known})")
        return profiles[chosen]
    active = profiles.get("__ACTIVE__", {})
    return profiles.get(active.get("omero.config.profile", "default"), active)


def default_omero_config_path() -> Path | None:
    """``$OMERODIR/etc/grid/config.xml``; an OMERODIR without one is warned about, once per load."""
    omerodir = os.environ.get("OMERODIR")
    if not omerodir:
        return None
    path = Path(omerodir) / "etc" / "grid" / "config.xml"
    if path.exists():
        return path
    log.warning("OMERODIR=%s has no etc/grid/config.xml: OMERO's properties are not read "
                "(defaults, --config files and the environment only)", omerodir)
    return None


def environment_values(environ: Mapping[str, str], known: Iterable[str]) -> dict[str, str]:
    """Properties given as environment variables: ``OMERO_MAIL_HOST`` -> ``omero.mail.host``.

    Only known keys (those with a default, or set by an earlier source) are mapped, so
    that camelCase names (``socketFactory``) round-trip and unrelated variables that
    happen to share the prefix are not taken for properties; so are the per-type flood
    overrides (``OMERO_MAIL_FLOOD_LOGIN_FAILED_THRESHOLD``). A key with ``-`` is also
    read under its old name with the ``-`` kept; the name with ``_`` wins.
    """
    current = {env_name(key): key for key in known}
    legacy = {legacy_env_name(key): key for key in known}
    found = {legacy[name]: value for name, value in environ.items() if name in legacy and name not in current}
    for name, value in environ.items():
        flood = _FLOOD_TYPE_ENV.fullmatch(name)
        if name in current:
            found[current[name]] = value
        elif flood:
            found[f"omero.mail.flood.{flood['type'].lower().replace('_', '.')}.{flood['field'].lower()}"] = value
    return found


def unread_environment(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """The ``OMERO_MAIL_*`` variables :func:`environment_values` takes for no property; the test
    suite's own (``OMERO_MAIL_TEST_AMQP_URL``, ...) aside."""
    known = list(known)
    names = {env_name(key) for key in known} | {legacy_env_name(key) for key in known}
    return sorted(name for name in environ if name.startswith("OMERO_MAIL_") and not name.startswith("OMERO_MAIL_TEST_")
                  and name not in names and not _FLOOD_TYPE_ENV.fullmatch(name))


def load(
    config_files: Iterable[str | os.PathLike] = (),
    omero_config: str | os.PathLike | None = None,
    environ: Mapping[str, str] | None = None,
    extra_defaults: Mapping[str, str] | None = None,
) -> Properties:
    """Build the effective properties from every source, later wins (README, "Configuration")."""
    props = Properties()
    if extra_defaults:
        props.update(extra_defaults, origin="default")
    xml_path = Path(omero_config) if omero_config else default_omero_config_path()
    if xml_path is not None:
        props.update(read_omero_config_xml(xml_path), origin=str(xml_path))
    for path in config_files:
        props.update(read_properties_file(path), origin=str(path))
    environ = os.environ if environ is None else environ
    props.update(environment_values(environ, list(props)), origin="environment")
    return props
