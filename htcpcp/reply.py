# -*- test-case-name: tests.test_protocol -*-
"""
What a resource answers, before framing: a L{Reply}, and the helpers that
make the common ones.

A reply carries its status, body, media type, extra headers and the
C{Safe} header of RFC 2324 section 2.2.1.1, which says whether the method
it answers is safe (L{Reply.answering}).  The protocol adds the rest of
the head (Server, Date, Content-Length, Connection) and frames it.
"""

from __future__ import annotations

import json
from typing import Final, NamedTuple

from htcpcp.message import Request
from htcpcp.vocabulary import SAFE

__all__ = [
    "JSON",
    "READ_ONLY_METHODS",
    "TEXT",
    "Refusal",
    "Reply",
    "compact_json",
    "json_reply",
    "read_only",
    "text_reply",
]

JSON: Final = "application/json"
TEXT: Final = "text/plain; charset=utf-8"
READ_ONLY_METHODS: Final = "GET, HEAD, OPTIONS"
"""What a read-only resource (the log, the list of pots) answers."""


class Reply(NamedTuple):
    """
    A response before framing: the protocol adds Date, Server, lengths.

    @ivar safe: the C{Safe} header's value (C{yes} or C{no}), or C{None}
        for none; see L{answering}.
    """

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()
    safe: str | None = None

    def answering(self, method: str) -> Reply:
        """This reply as the answer to C{method}: its C{Safe} header says whether C{method} is."""
        safe = SAFE.get(method)
        if self.safe == safe:
            return self
        return Reply(self.status, self.body, self.content_type, self.headers, safe)


class Refusal(Exception):
    """Raised inside a resource to answer at once with C{reply}."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


_COMPACT: Final = json.JSONEncoder(separators=(",", ":"))


def compact_json(value: object) -> bytes:
    """JSON on one line without spaces: the lab's client reads it from one 1,024-byte recv."""
    return _COMPACT.encode(value).encode("utf-8")


def text_reply(status: int, message: str, *headers: tuple[str, str]) -> Reply:
    """A plain-text reply: C{message} and a line end."""
    return Reply(status, (message + "\n").encode("utf-8"), TEXT, headers)


def json_reply(value: object, status: int = 200, *headers: tuple[str, str]) -> Reply:
    """A JSON reply of C{value} (see L{compact_json})."""
    return Reply(status, compact_json(value), JSON, headers)


def read_only(request: Request, what: str) -> Reply | None:
    """The answer to a request a read-only resource does not serve, or C{None}."""
    if request.method == "OPTIONS":
        return Reply(200, b"", TEXT, (("Allow", READ_ONLY_METHODS),))
    if request.method not in ("GET", "HEAD"):
        return text_reply(
            405, f"{what} is read-only: {READ_ONLY_METHODS}", ("Allow", READ_ONLY_METHODS)
        )
    return None
