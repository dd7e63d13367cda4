# -*- test-case-name: tests.test_protocol,tests.test_response_bytes -*-
"""
Whole responses as bytes, made once a second: the pot server's formatter.

A response's bytes follow from its L{Reply} (status, media type, C{Safe}
header, extra headers, body), the request's version and method, and
whether the connection closes after it, but for the Date header, which
changes once a second.  L{ResponseBytes} remembers what it made within
the current second, for the methods that change nothing: the answer to
a change (BREW, POST, WHEN) describes a state that is new each time, so
remembering it would only push the answers that do repeat out.
"""

from __future__ import annotations

from email.utils import formatdate
from typing import Final

from twisted.internet.interfaces import IReactorTime

from htcpcp.message import serialize_response
from htcpcp.reply import Reply
from htcpcp.vocabulary import SAFE_METHODS

__all__ = ["ResponseBytes"]


class ResponseBytes:
    """
    Whole responses as bytes.

    A response's bytes follow from its reply, the request's version and
    method, and whether the connection closes after it, but for the Date
    header, which changes once a second.  Responses made within the same
    second are remembered (small ones, up to C{MAX_REMEMBERED}, answering
    a safe method), so a server answering the same question over and over
    formats it once a second.
    """

    MAX_REMEMBERED: Final = 256
    MAX_REMEMBERED_BODY: Final = 4096

    def __init__(self, clock: IReactorTime, server: str) -> None:
        self._clock = clock
        self._server = server
        self._second = -1
        self._date = b""
        self._made: dict[tuple[Reply, str, str, bool], bytes] = {}
        self._prefixes: dict[tuple[str, int, str, str | None], bytes] = {}

    def response(self, reply: Reply, version: str, method: str, close: bool) -> bytes:
        """The bytes answering a C{method} request of C{version} with C{reply}."""
        self._date_line()
        remembered = method in SAFE_METHODS and len(reply.body) <= self.MAX_REMEMBERED_BODY
        key = (reply, version, method, close)
        if remembered:
            made = self._made.get(key)
            if made is not None:
                return made
        head = self.head(
            version,
            reply.status,
            reply.content_type,
            reply.safe,
            len(reply.body),
            reply.headers,
            close,
        )
        made = head if method == "HEAD" else head + reply.body
        if remembered:
            if len(self._made) >= self.MAX_REMEMBERED:
                self._made.clear()
            self._made[key] = made
        return made

    def _date_line(self) -> bytes:
        """The Date header line for now; a new second forgets the responses made."""
        second = int(self._clock.seconds())
        if second != self._second:
            self._second = second
            self._date = b"Date: %s\r\n" % formatdate(second, usegmt=True).encode("ascii")
            self._made.clear()
        return self._date

    def head(
        self,
        version: str,
        status: int,
        content_type: str,
        safe: str | None,
        length: int | None,
        extra: tuple[tuple[str, str], ...] = (),
        close: bool = False,
    ) -> bytes:
        """Everything of a response before its body, blank line included (no length: C{None})."""
        key = (version, status, content_type, safe)
        prefix = self._prefixes.get(key)
        if prefix is None:
            fixed = [("Server", self._server), ("Content-Type", content_type)]
            if safe is not None:
                fixed.append(("Safe", safe))
            prefix = serialize_response(version, status, fixed)[:-2]
            self._prefixes[key] = prefix
        head = prefix + self._date_line()
        if length is not None:
            head += b"Content-Length: %d\r\n" % length
        if extra:
            head += "".join(f"{name}: {value}\r\n" for name, value in extra).encode("utf-8")
        if close:
            head += b"Connection: close\r\n"
        return head + b"\r\n"
