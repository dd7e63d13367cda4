# -*- test-case-name: tests.test_message -*-
"""
What a parser remembers of the lines it has read: one object, given to it.

Clients repeat themselves (the same request lines, header lines and whole
heads, over and over), so a parser that remembers what a line parsed to
skips the work the next time.  Each memo is bounded: a hostile client
sending endless new lines only makes it start over.  A server gives one
L{ParseMemo} to all its connections' parsers; a parser made without one
gets its own, so no two unrelated parsers (a server's and a client's)
share what they learned.  A memo changes how fast a parser is, never what
it says: parsing with it warm or cold gives the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from htcpcp.cache import BoundedCache

if TYPE_CHECKING:
    from htcpcp.message.requests import Head

__all__ = ["MAX_REMEMBERED_HEAD", "MAX_REMEMBERED_LINE", "MEMO_ENTRIES", "ParseMemo"]

MEMO_ENTRIES: Final = 1024
"""Entries each of a memo's tables holds before it starts over."""
MAX_REMEMBERED_LINE: Final = 256
"""Longest request or header line remembered, in bytes."""
MAX_REMEMBERED_HEAD: Final = 1024
"""Longest whole head remembered, in bytes."""


def _table() -> BoundedCache:  # type: ignore[type-arg]
    return BoundedCache(MEMO_ENTRIES)


@dataclass(frozen=True, eq=False)
class ParseMemo:
    """
    What parsers sharing this memo have read, and what it said.

    @ivar request_lines: request lines and their method, target and version.
    @ivar header_lines: header lines and their lower-case name and value.
    @ivar heads: whole request heads and what they say (L{Head}).
    """

    request_lines: BoundedCache[bytes, tuple[str, str, str]] = field(default_factory=_table)
    header_lines: BoundedCache[bytes, tuple[str, str]] = field(default_factory=_table)
    heads: BoundedCache[bytes, Head] = field(default_factory=_table)
