"""
The Accept-Additions header (RFC 2324 section 2.2.2.1, erratum 5981, RFC 7168).

The RFC's form is a comma-separated list, each item with optional
parameters and a C{q} value: C{Cream;q=0.5, Whisky, *;q=0}.  The lab's
clients separate additions with C{;} instead (C{whole-milk; oat milk}), so an
item after C{;} that is not C{name=value} is read as another addition.  And
public clients' examples misread the grammar's C{milk-type} and
C{syrup-type} as parameter names (C{milk-type=Cream; syrup-type=Almond}):
such a parameter names an addition too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["AdditionsError", "AdditionsRequest", "addition_key", "parse_accept_additions"]

_NAME: Final = re.compile(r"[\w][\w .'-]{0,63}\Z")
_QVALUE: Final = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")
ADDITION_TYPES: Final = frozenset(
    {"milk-type", "syrup-type", "sweetener-type", "spice-type", "alcohol-type"}
)
"""RFC 2324's names for kinds of addition, which clients write as parameter names."""


class AdditionsError(ValueError):
    """An Accept-Additions value that cannot be read."""


@dataclass(frozen=True, slots=True)
class AdditionsRequest:
    """
    What a request asks to be added.

    @ivar wanted: addition names in the order asked, without duplicates.
    @ivar excluded: names explicitly refused with C{q=0}.
    @ivar wildcard: whether C{*} was given (any addition is acceptable).
    """

    wanted: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    wildcard: bool = False


def addition_key(name: str) -> str:
    """The comparison key of an addition name: case and separators folded."""
    return "-".join(name.lower().replace("_", " ").replace("-", " ").split())


def _quality(value: str) -> float:
    if not _QVALUE.match(value):
        raise AdditionsError(f"q value {value!r} is not a number between 0 and 1")
    return float(value)


def parse_accept_additions(*sources: str | list[str]) -> AdditionsRequest:
    """
    Read Accept-Additions header values and query-string name lists together.

    @param sources: header values (C{str}) or lists of plain names.
    @raise AdditionsError: for an item that is not an addition name.
    """
    wanted: dict[str, str] = {}
    excluded: dict[str, str] = {}
    wildcard = False
    for source in sources:
        items = [[name] for name in source] if isinstance(source, list) else _items(source)
        for names_and_params in items:
            names = [_addition_name(n) for n in names_and_params if _names_addition(n)]
            quality = 1.0
            for param in names_and_params:
                key, eq, value = param.partition("=")
                if eq and key.strip().lower() == "q":
                    quality = _quality(value.strip())
            for name in names:
                if name == "*":
                    wildcard = wildcard or quality > 0
                    continue
                if not _NAME.match(name):
                    raise AdditionsError(f"{name!r} is not an addition name")
                target = wanted if quality > 0 else excluded
                target.setdefault(addition_key(name), name)
    for key in excluded:
        wanted.pop(key, None)
    return AdditionsRequest(tuple(wanted.values()), tuple(excluded.values()), wildcard)


def _names_addition(part: str) -> bool:
    """Whether an item's part names an addition: C{Cream}, or C{milk-type=Cream}."""
    key, eq, _ = part.partition("=")
    return not eq or key.strip().lower() in ADDITION_TYPES


def _addition_name(part: str) -> str:
    _, eq, value = part.partition("=")
    return value.strip() if eq else part


def _items(header: str) -> list[list[str]]:
    items = []
    for item in header.split(","):
        parts = [part.strip() for part in item.split(";")]
        parts = [part for part in parts if part]
        if parts:
            items.append(parts)
    return items
