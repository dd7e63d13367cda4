# -*- test-case-name: tests.test_web_routes -*-
"""
The protocol inspector's memory: the recent HTCPCP exchanges with the pot.

The client reports every request and its raw response (L{Exchange}); the
inspector keeps the last few.  Reads (the safe methods: GET, PROPFIND,
HEAD, OPTIONS) repeat every second while browsers watch the pots, so they
are kept apart from the exchanges that change something and cannot push
those out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from htcpcp.client import Exchange
from htcpcp.vocabulary import SAFE_METHODS

__all__ = ["Inspector", "method_of", "shown"]

SHOWN_BYTES: Final = 4096


def method_of(exchange: Exchange) -> str:
    """The request method of C{exchange} (the first word of its request)."""
    return exchange.request.split(b" ", 1)[0].decode("ascii", "replace")


def shown(data: bytes | None, limit: int = SHOWN_BYTES) -> str:
    """Raw bytes as text a person can read, control characters escaped, cut at C{limit}."""
    if data is None:
        return ""
    text = data[:limit].decode("utf-8", "backslashreplace")
    printable = "".join(c if c in "\r\n\t" or c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    rest = len(data) - limit
    return printable + (f"\n… ({rest} more bytes)" if rest > 0 else "")


class Inspector:
    """
    The last C{reads} reads and the last C{changes} other exchanges.

    @param redact: hides what people should not see in where an exchange
        went and in its error (see L{htcpcp.web.http.endpoints.redactor}).
    """

    def __init__(
        self, reads: int = 20, changes: int = 40, redact: Callable[[str], str] = str
    ) -> None:
        self._reads: deque[Exchange] = deque(maxlen=reads)
        self._changes: deque[Exchange] = deque(maxlen=changes)
        self._redact = redact

    def record(self, exchange: Exchange) -> None:
        """Keep C{exchange} (the client's C{on_exchange} callback)."""
        redact = self._redact
        exchange = replace(
            exchange,
            endpoint=redact(exchange.endpoint),
            error=redact(exchange.error) if exchange.error else None,
        )
        kept = self._reads if method_of(exchange) in SAFE_METHODS else self._changes
        kept.append(exchange)

    def recent(self, changes_only: bool = False) -> list[Exchange]:
        """The kept exchanges, newest first."""
        kept = list(self._changes) if changes_only else [*self._reads, *self._changes]
        return sorted(kept, key=lambda e: e.started, reverse=True)
