"""Property text to typed values: the one place each kind of value is parsed.

Every parser takes the text of a property and returns its value, or raises
:class:`ValueError` whose message is the expected form (``a duration such as 30s, 5m or
1h``), so the caller can name the key and the value in one line. No I/O, no properties.
"""

from __future__ import annotations

import ipaddress
import re

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h)?\s*$")
UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, None: 1000}
_HOST = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$", re.IGNORECASE)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_duration_ms(text: str) -> int:
    """``30s``, ``5m``, ``1h``, ``250ms`` (bare numbers are seconds) -> milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError("a duration such as 30s, 5m or 1h")
    return int(match.group(1)) * UNIT_MS[match.group(2)]


def durations_ms(text: str) -> tuple[int, ...]:
    """``30s,5m,30m`` -> ``(30000, 300000, 1800000)``: at least one, each longer than 0."""
    try:
        delays = tuple(parse_duration_ms(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError("comma-separated durations such as 30s,5m,30m") from None
    if not delays or 0 in delays:
        raise ValueError("comma-separated durations longer than 0, such as 30s,5m,30m")
    return delays


def seconds(text: str) -> float:
    return parse_duration_ms(text) / 1000


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("true or false")


def whole(text: str, minimum: int = 0) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"a whole number of at least {minimum}")
    return value


def number(text: str, minimum: float = 0.0) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        value = minimum - 1
    if not value >= minimum:  # also refuses nan
        raise ValueError(f"a number of at least {minimum:g}")
    return value


def port(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise ValueError("a port number from 1 to 65535")
    return value


def optional_port(text: str) -> int | None:
    """A listening port, or None when empty or 0 (off)."""
    if text.strip() in ("", "0"):
        return None
    try:
        return port(text)
    except ValueError:
        raise ValueError("a port number from 1 to 65535, or empty or 0 for off") from None


def one_of(text: str, choices: tuple[str, ...]) -> str:
    word = text.strip().lower()
    if word not in choices:
        raise ValueError(", ".join(choices[:-1]) + " or " + choices[-1] if len(choices) > 1 else choices[0])
    return word


def names(text: str) -> tuple[str, ...]:
    """``a, b,,c`` -> ``("a", "b", "c")``."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def name_pairs(text: str) -> dict[str, frozenset[str]]:
    """``ops:root, ops:jane`` -> ``{"ops": frozenset({"root", "jane"})}`` (who may act for whom)."""
    found: dict[str, set[str]] = {}
    for pair in names(text):
        user, sep, name = (part.strip() for part in pair.partition(":"))
        if not (sep and user and name):
            raise ValueError("comma-separated broker-user:omero-admin pairs, such as ops:root,ops:jane")
        found.setdefault(user, set()).add(name)
    return {user: frozenset(them) for user, them in found.items()}


def ip_address(text: str) -> str:
    """An IP address in its usual spelling (``::1``, not ``0:0:0:0:0:0:0:1``), or "" when empty."""
    if not text.strip():
        return ""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError("one IP address, such as 127.0.0.1, or empty") from None


def host_names(text: str) -> tuple[str, ...]:
    """``mail.example.org, .example.org`` -> both; a leading dot stands for a domain and its subdomains.
    A trailing dot (``mail.example.org.``, DNS's absolute name) is dropped: Django compares the
    request's host without it, so with it the name would never match."""
    found = names(text)
    for name in found:
        if not _HOST.match(name):
            raise ValueError("comma-separated host names, such as mail.example.org "
                             "(.example.org for a domain and its subdomains; no * and no port)")
    return tuple(name.removesuffix(".") for name in found)
