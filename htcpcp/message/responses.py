# -*- test-case-name: tests.test_message -*-
"""
The response reader: the bytes a client receives in, L{Response}s out.

Bodies are framed by Content-Length, chunked coding, or (as the lab's
original server does) by the server closing the connection.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from htcpcp.message.chunked import ChunkedBody
from htcpcp.message.events import (
    NEED_DATA,
    PEER_CLOSED,
    Headers,
    Limits,
    ProtocolError,
    Response,
    Sentinel,
)
from htcpcp.message.headers import (
    check_header_sizes,
    content_length,
    find_head_end,
    parse_header_lines,
)
from htcpcp.message.memo import ParseMemo

__all__ = ["CLIENT_LIMITS", "ResponseParser"]

CLIENT_LIMITS: Final = Limits(body=1024 * 1024)
"""A client reads bodies of up to 1 MiB (the history's pages); the rest as a server reads."""
_STATUS_LINE: Final = re.compile(rb"([A-Za-z][A-Za-z-]*/\d\.\d) (\d{3})(?: (.*))?\Z")


class _ResponseHead(NamedTuple):
    version: str
    status: int
    reason: str
    headers: Headers


class ResponseParser:
    """
    Turns the bytes a client receives into L{Response} events.

    Call L{next_event} with C{head_request=True} for the answer to a HEAD.
    The parser keeps its place between calls: a head is read once, and a
    body arriving in many segments costs what it would in one.

    @param memo: what this parser remembers of header lines it has read; a
        fresh one when not given.
    """

    def __init__(self, limits: Limits | None = None, *, memo: ParseMemo | None = None) -> None:
        self._limits = limits or CLIENT_LIMITS
        self._memo = memo if memo is not None else ParseMemo()
        self._buffer = bytearray()
        self._eof = False
        self._scan_from = 0
        self._head: _ResponseHead | None = None
        self._raw = bytearray()
        self._body = bytearray()
        self._chunked: ChunkedBody | None = None
        self._remaining: int | None = None

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; C{b""} means the server closed its side."""
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self, head_request: bool = False) -> Response | Sentinel:
        """Return the next L{Response}, L{NEED_DATA} or L{PEER_CLOSED}."""
        head = self._head
        if head is None:
            read = self._read_head(head_request)
            if not isinstance(read, _ResponseHead):
                return read
            head = read
        if not self._read_body(head.version):
            return NEED_DATA
        response = Response(
            head.version,
            head.status,
            head.reason,
            head.headers,
            bytes(self._body),
            bytes(self._raw),
        )
        self._head = None
        self._raw = bytearray()
        self._body = bytearray()
        self._chunked = None
        self._remaining = None
        return response

    def _read_head(self, head_request: bool) -> _ResponseHead | Sentinel:
        buffer = self._buffer
        found = find_head_end(buffer, max(0, self._scan_from - 3))
        if found is None:
            if len(buffer) > self._limits.header_bytes + self._limits.request_line:
                raise ProtocolError(431, "the response head is too large")
            if self._eof:
                if buffer.strip():
                    raise ProtocolError(400, "the connection closed inside a response head")
                return PEER_CLOSED
            self._scan_from = len(buffer)
            return NEED_DATA
        self._scan_from = 0
        head_end, blank_line_end = found
        lines = bytes(buffer[:head_end]).split(b"\n")
        parsed = _STATUS_LINE.match(lines[0].rstrip(b"\r"))
        if parsed is None:
            raise ProtocolError(400, "malformed status line")
        version = parsed.group(1).decode("ascii")
        status = int(parsed.group(2))
        reason = (parsed.group(3) or b"").decode("utf-8", "replace")
        check_header_sizes(lines[1:], self._limits, version)
        headers = parse_header_lines(lines[1:], version, self._memo.header_lines)
        self._raw += buffer[:blank_line_end]
        del buffer[:blank_line_end]
        if head_request or status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        elif "transfer-encoding" in headers:
            self._chunked = ChunkedBody(self._limits, version, keep_raw=True)
        elif "content-length" in headers:
            self._remaining = content_length(
                headers["content-length"].strip(), self._limits, version
            )
        self._head = _ResponseHead(version, status, reason, headers)
        return self._head

    def _read_body(self, version: str) -> bool:
        """Take what the body needs from the buffer; C{True} once it is complete."""
        buffer = self._buffer
        if self._chunked is not None:
            done = self._chunked.feed(buffer)
            assert self._chunked.raw is not None
            self._raw += self._chunked.raw
            self._chunked.raw.clear()
            if done:
                self._body = self._chunked.body
        elif self._remaining is not None:
            take = min(self._remaining, len(buffer))
            self._body += buffer[:take]
            self._raw += buffer[:take]
            del buffer[:take]
            self._remaining -= take
            done = not self._remaining
        else:
            if len(self._body) + len(buffer) > self._limits.body:
                raise ProtocolError(413, f"the response body is over {self._limits.body} bytes")
            self._body += buffer
            self._raw += buffer
            buffer.clear()
            done = self._eof
        if not done and self._eof:
            raise ProtocolError(400, "the connection closed inside a response body", version)
        return done
