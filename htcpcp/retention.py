# -*- test-case-name: tests.test_history_retention -*-
"""
How much brew history a pot server keeps: everything (the default), the
brews of the last so many days, or the newest so many brews.

Written in a configuration file as C{history-keep = all}, C{30 days} (or
C{30d}) or C{100000 brews} (or a bare C{100000}).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

__all__ = ["KEEP_ALL", "MAX_BREWS", "MAX_DAYS", "Retention", "parse_retention"]

MAX_DAYS: Final = 36_500
MAX_BREWS: Final = 10**12

_SPELLING: Final = re.compile(
    r"\s*(?P<number>\d{1,13}(?:\.\d{1,6})?)\s*(?P<unit>d|days?|brews?)?\s*", re.IGNORECASE
)


@dataclass(frozen=True)
class Retention:
    """Keep the brews started within C{days} days, or the newest C{brews}; C{None}: no limit."""

    days: float | None = None
    brews: int | None = None

    @property
    def keeps_all(self) -> bool:
        """Whether nothing is ever removed."""
        return self.days is None and self.brews is None

    def describe(self) -> str:
        """The rule in words, as a configuration file writes it."""
        if self.days is not None:
            return f"{self.days:g} days"
        if self.brews is not None:
            return f"{self.brews} brews"
        return "all"


KEEP_ALL: Final = Retention()


def parse_retention(text: str) -> Retention:
    """
    Read a C{history-keep} value.

    @raise ValueError: with a message saying what is accepted.
    """
    if text.strip().lower() == "all":
        return KEEP_ALL
    match = _SPELLING.fullmatch(text)
    problem = (
        f"{text.strip()!r}: give 'all', a number of days ('30 days', up to {MAX_DAYS:,})"
        f" or a number of brews ('100000 brews', 1 or more)"
    )
    if match is None:
        raise ValueError(problem)
    number = float(match["number"])
    unit = (match["unit"] or "brews").lower()
    if unit.startswith("d"):
        if not 0 < number <= MAX_DAYS or not math.isfinite(number):
            raise ValueError(problem)
        return Retention(days=number)
    if not number.is_integer() or not 1 <= number <= MAX_BREWS:
        raise ValueError(problem)
    return Retention(brews=int(number))
