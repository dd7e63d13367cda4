# -*- test-case-name: tests.test_message,tests.test_web_cache -*-
"""
Small bounded memos: for the hot path, and for what is kept a while.

Clients repeat themselves (the same request lines, headers and targets),
so remembering what a line parsed to saves the work; a hostile client
sending endless new lines only makes a L{BoundedCache} start over.  What
must be kept a while but not for ever (pages made, refusals to show, forms
answered) goes in a L{RecentCache}, which forgets the least recently stored
entry first.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["BoundedCache", "RecentCache"]

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


class RecentCache(Generic[K, V]):
    """At most C{limit} entries; storing one more forgets the least recently stored."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._entries: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V) -> None:
        """Keep C{value} for C{key}, as the most recently stored entry."""
        self._entries.pop(key, None)
        self._entries[key] = value
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)
