# -*- test-case-name: tests.test_message -*-
"""
A small bounded memo for the hot path: parsed lines, resolved targets.

Clients repeat themselves (the same request lines, headers and targets),
so remembering what a line parsed to saves the work; a hostile client
sending endless new lines only makes the memo start over.
"""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

K = TypeVar("K")
V = TypeVar("V")


class BoundedCache(dict[K, V], Generic[K, V]):
    """A dict that forgets everything when it reaches C{size} entries."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> None:
        """Keep C{value} for C{key}, starting over first if the memo is full."""
        if len(self) >= self.size:
            self.clear()
        self[key] = value
