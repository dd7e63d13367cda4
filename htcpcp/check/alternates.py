# -*- test-case-name: tests.test_check -*-
"""
Reading an RFC 2295 C{Alternates} header, as RFC 7168's teapots send it.

    Alternates = "Alternates" ":" variant-list                (RFC 2295 §8.3)
    variant-list = 1#( variant-description | fallback-variant | list-directive )
    variant-description = "{" <"> URI <"> source-quality *variant-attribute "}"
    fallback-variant = "{" <"> URI <"> "}"

RFC 7168's examples leave out the source-quality RFC 2295 §5.1 requires, so
it is optional here.  List directives (C{proxy-rvsa="..."}) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["AlternatesError", "Variant", "parse_alternates"]

_VARIANT: Final = re.compile(
    r'\{\s*"(?P<uri>[^"\s]*)"\s*(?P<quality>[01](?:\.\d{0,3})?)?\s*'
    r"(?P<attributes>(?:\{[^{}]*\}\s*)*)\}"
)
_ATTRIBUTE: Final = re.compile(r"\{\s*([A-Za-z][A-Za-z-]*)\s+([^{}]*?)\s*\}")
_DIRECTIVE: Final = re.compile(r'[A-Za-z][A-Za-z-]*\s*=\s*"[^"]*"')
_SEPARATOR: Final = re.compile(r"\s*(,\s*|\Z)")


class AlternatesError(ValueError):
    """The header is not an RFC 2295 variant list; the message says where."""


@dataclass(frozen=True)
class Variant:
    uri: str
    quality: float | None
    media_type: str | None


def parse_alternates(value: str) -> list[Variant]:
    """The variants of an C{Alternates} value, in order."""
    found: list[Variant] = []
    position = len(value) - len(value.lstrip())
    while position < len(value):
        entry = _VARIANT.match(value, position) or _DIRECTIVE.match(value, position)
        if entry is None:
            raise AlternatesError(f"not a variant at {value[position : position + 40]!r}")
        if entry.re is _VARIANT:
            types = [
                v.strip().lower()
                for k, v in _ATTRIBUTE.findall(entry.group("attributes"))
                if k.lower() == "type"
            ]
            quality = entry.group("quality")
            found.append(
                Variant(
                    entry.group("uri"),
                    float(quality) if quality else None,
                    types[0] if types else None,
                )
            )
        separator = _SEPARATOR.match(value, entry.end())
        if separator is None:
            raise AlternatesError(f"no comma before {value[entry.end() : entry.end() + 40]!r}")
        position = separator.end()
    if not found:
        raise AlternatesError("no variant in it")
    return found
