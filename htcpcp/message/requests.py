# -*- test-case-name: tests.test_message -*-
"""
The request reader: the bytes of one server connection in, L{Request}s out.

Framing follows HTTP/1.1 with the lab's quirks: lines end in CRLF or a bare
LF; a BREW or POST without Content-Length or Transfer-Encoding carries a
"length-less" body that ends at a line end, at end of input, as soon as it
is a complete command word, or when the caller says the peer has gone
quiet (L{RequestParser.end_lengthless_body}).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final, NamedTuple

from htcpcp.message.chunked import ChunkedBody
from htcpcp.message.events import (
    DEFAULT_LIMITS,
    HIGHEST_MINOR,
    NEED_DATA,
    PEER_CLOSED,
    VERSIONS,
    Headers,
    Limits,
    ProtocolError,
    Request,
    Sentinel,
    keeps_alive,
    reply_version,
)
from htcpcp.message.headers import (
    TOKEN,
    check_expect,
    check_header_sizes,
    check_host,
    content_length,
    find_head_end,
    has_bad_bytes,
    parse_header_lines,
)
from htcpcp.message.memo import MAX_REMEMBERED_HEAD, MAX_REMEMBERED_LINE, ParseMemo
from htcpcp.vocabulary import COMMANDS, LENGTHLESS_BODY_METHODS, METHODS

__all__ = ["Head", "RequestParser"]

_VERSION_SHAPE: Final = re.compile(rb"[A-Za-z][A-Za-z-]*/\d+\.\d+\Z")
_KNOWN_METHODS: Final = frozenset(method.encode("ascii") for method in METHODS)
_BLANKS_BEFORE_HEAD: Final = b" \t\r\n"
"""Skipped before a request line: line ends (RFC 9112 2.2), and blanks after a command word."""


class Head(NamedTuple):
    """What a request head says: the request (without its body) and how its body is framed."""

    request: Request
    limits: Limits
    body_length: int
    chunked: bool
    expects_continue: bool


def _parse_request_line(line: bytes, limits: Limits) -> tuple[str, str, str]:
    """Read C{METHOD target version} (a trailing CR allowed) into text."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) > limits.request_line:
        raise ProtocolError(414, f"request lines are limited to {limits.request_line} bytes")
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ProtocolError(400, "the request line must be: METHOD target version")
    method, target, raw_version = parts
    version = VERSIONS.get(raw_version)
    if version is None:
        if not _VERSION_SHAPE.match(raw_version):
            raise ProtocolError(400, "the request line must end with a protocol version")
        version = HIGHEST_MINOR.get(raw_version.partition(b".")[0])
        if version is None:
            raise ProtocolError(505, "this server speaks HTCPCP/1.0, HTCPCP/1.1 and HTTP/1.x")
    text_target = target.decode("utf-8", "surrogateescape")
    answer = reply_version(version, text_target)
    if method not in _KNOWN_METHODS and not TOKEN.match(method):
        raise ProtocolError(400, "the method is not a token", answer)
    if not target or has_bad_bytes(target):
        raise ProtocolError(400, "the request target is malformed", answer)
    return method.decode("ascii"), text_target, version


def _command_word_end(buffer: bytearray) -> int | None:
    """
    Where a command word at the start of C{buffer} ends (after blanks and line ends).

    @return: the end offset; C{0} when the buffer could still become a
        command word; C{None} when it cannot.
    """
    start = 0
    while start < len(buffer) and buffer[start] in b" \t\r\n":
        start += 1
    candidate = bytes(buffer[start : start + 5]).lower()
    for word in COMMANDS:
        if candidate.startswith(word):
            return start + len(word)
    if start + len(candidate) == len(buffer) and any(
        word.startswith(candidate) for word in COMMANDS
    ):
        return 0
    return None


class RequestParser:
    """
    Turns the bytes of one connection into L{Request} events.

    Call L{receive_data} with what arrived (C{b""} for end of input), then
    L{next_event} until it returns L{NEED_DATA}.  A L{ProtocolError} means the
    connection must be answered with its status and closed.

    @param memo: what this parser remembers of lines it has read, shared
        with the other parsers given the same memo (a server's connections);
        a fresh one when not given.
    """

    _eof = False
    _closing = False
    _scan_from = 0
    _pending: Request | None = None
    _chunked: ChunkedBody | None = None
    _lengthless = False
    _body_length = 0
    _quiet = False
    _continue = False
    _error: ProtocolError | None = None

    def __init__(self, limits: Limits = DEFAULT_LIMITS, *, memo: ParseMemo | None = None) -> None:
        self._limits = limits
        self._memo = memo if memo is not None else ParseMemo()
        self._buffer = bytearray()

    @property
    def idle(self) -> bool:
        """Whether nothing of a next request has arrived."""
        return not self._buffer and self._pending is None

    @property
    def head_in_progress(self) -> bool:
        """Whether part of a request head has arrived but not all of it."""
        return self._pending is None and bool(self._buffer.strip(_BLANKS_BEFORE_HEAD))

    @property
    def awaiting_lengthless_body(self) -> bool:
        """Whether a length-less body is being read and could still grow."""
        return self._lengthless and self._pending is not None

    @property
    def awaiting_continue(self) -> Request | None:
        """
        The request whose head asked for C{100 Continue} and whose body is awaited.

        Only an HTTP/1.1 client is sent C{100 Continue} (RFC 9110 section 10.1.1).
        """
        pending = self._pending
        if self._continue and pending is not None and pending.version != "HTTP/1.0":
            return pending
        return None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; C{b""} means the peer closed its side."""
        if data:
            if not self._closing:
                self._buffer += data
        else:
            self._eof = True

    def end_lengthless_body(self) -> None:
        """The peer has gone quiet: take the length-less body as complete."""
        if self.awaiting_lengthless_body:
            self._quiet = True

    def next_event(self) -> Request | Sentinel:
        """Return the next L{Request}, L{NEED_DATA} or L{PEER_CLOSED}."""
        if self._error is not None:
            raise self._error
        if not self._buffer and self._pending is None and not self._eof:
            return NEED_DATA
        try:
            return self._next_event()
        except ProtocolError as error:
            self._error = error
            raise

    def _next_event(self) -> Request | Sentinel:
        if self._closing:
            return PEER_CLOSED if self._eof else NEED_DATA
        request = self._pending
        if request is None:
            request = self._read_head()
            if request is None:
                if self._eof:
                    if self._buffer.strip(_BLANKS_BEFORE_HEAD):
                        raise ProtocolError(400, "the request ended before its head did")
                    return PEER_CLOSED
                return NEED_DATA
        if self._body_length or self._lengthless or self._chunked is not None:
            body = self._read_body(request.reply_version)
            if body is None:
                self._pending = request
                return NEED_DATA
            self._pending = None
            if body:
                request = request._replace(body=body)
        self._continue = False
        if not request.keep_alive:
            self._closing = True
            self._buffer.clear()
        return request

    def _read_head(self) -> Request | None:
        buffer = self._buffer
        if buffer and buffer[0] in _BLANKS_BEFORE_HEAD:
            start = 1
            while start < len(buffer) and buffer[start] in _BLANKS_BEFORE_HEAD:
                start += 1
            del buffer[:start]
            self._scan_from = 0
        found = find_head_end(buffer, max(0, self._scan_from - 3))
        if found is None:
            self._check_incomplete_head()
            self._scan_from = len(buffer)
            return None
        head_end, blank_line_end = found
        head = bytes(buffer[:head_end])
        del buffer[:blank_line_end]
        self._scan_from = 0
        heads = self._memo.heads
        known = heads.get(head)
        if known is None or known.limits is not self._limits:
            known = self._parse_head(head)
            if len(head) <= MAX_REMEMBERED_HEAD:
                heads.remember(head, known)
        request = known.request
        if known.body_length:
            self._body_length = known.body_length
            self._continue = known.expects_continue
        elif known.chunked:
            self._chunked = ChunkedBody(self._limits, request.reply_version)
            self._continue = known.expects_continue
        elif request.lengthless_body:
            self._lengthless = True
        return request

    def _read_request_line(self, line: bytes) -> tuple[str, str, str]:
        """L{_parse_request_line}, remembered: clients repeat their request lines."""
        lines = self._memo.request_lines
        known = lines.get(line)
        if known is None:
            known = _parse_request_line(line, self._limits)
            if len(line) <= MAX_REMEMBERED_LINE:
                lines.remember(line, known)
        return known

    def _check_incomplete_head(self) -> None:
        """
        Refuse a head that is certain to break a limit once complete.

        The checks are those of L{_parse_head}, in the same order, made only
        where the answer cannot change, so a head refused here is refused
        however its bytes are split.
        """
        limits = self._limits
        buffer = self._buffer
        first_end = buffer.find(b"\n")
        line_end = len(buffer) if first_end < 0 else first_end
        if line_end - (buffer[line_end - 1 : line_end] == b"\r") > limits.request_line:
            raise ProtocolError(414, f"request lines are limited to {limits.request_line} bytes")
        if first_end < 0:
            return
        if buffer.count(b"\n", first_end + 1) <= limits.header_count and (
            len(buffer) - first_end - 1 - 3 <= limits.header_bytes
        ):
            return
        _, target, version = self._read_request_line(bytes(buffer[:first_end]))
        answer = reply_version(version, target)
        if buffer.count(b"\n", first_end + 1) > limits.header_count:
            raise ProtocolError(431, f"more than {limits.header_count} header lines", answer)
        raise ProtocolError(431, "the headers are too large", answer)

    def _parse_head(self, head: bytes) -> Head:
        limits = self._limits
        lines = head.split(b"\n")
        first = lines[0]
        method, target, version = self._read_request_line(first)
        answer = reply_version(version, target)
        small_headers = min(limits.header_bytes, limits.header_line)
        if len(head) - len(first) > small_headers or len(lines) > limits.header_count:
            check_header_sizes(lines[1:], limits, answer)
        headers = (
            parse_header_lines(lines[1:], answer, self._memo.header_lines) if len(lines) > 1 else {}
        )
        check_host(headers, version, target, answer)
        body_length, chunked, lengthless = 0, False, False
        if "transfer-encoding" in headers or "content-length" in headers:
            body_length, chunked = self._body_framing(headers, answer)
        else:
            lengthless = method in LENGTHLESS_BODY_METHODS
        expects_continue = check_expect(headers, answer)
        request = Request(
            method,
            target,
            version,
            MappingProxyType(headers),
            b"",
            keeps_alive(version, headers),
            lengthless,
        )
        return Head(request, limits, body_length, chunked, expects_continue)

    def _body_framing(self, headers: Headers, version: str) -> tuple[int, bool]:
        """The body's length and whether it is chunked, from the framing headers."""
        te = headers.get("transfer-encoding")
        cl = headers.get("content-length")
        if te is not None and cl is not None:
            raise ProtocolError(400, "Content-Length and Transfer-Encoding together", version)
        if te is not None:
            if te.strip().lower() != "chunked":
                raise ProtocolError(501, "only the chunked transfer coding is supported", version)
            return 0, True
        assert cl is not None
        return content_length(cl.strip(), self._limits, version), False

    def _read_body(self, version: str) -> bytes | None:
        """
        Read the body the last head announced, or C{None} while more is needed.

        Once read, the framing is back to its defaults (no length, not
        chunked, not length-less) for the next head.
        """
        buffer = self._buffer
        if self._chunked is not None:
            if not self._chunked.feed(buffer):
                if self._eof:
                    raise ProtocolError(400, "the request ended inside its body", version)
                return None
            body = bytes(self._chunked.body)
            self._chunked = None
            return body
        if self._lengthless:
            return self._read_lengthless_body()
        length = self._body_length
        if len(buffer) < length:
            if self._eof:
                raise ProtocolError(400, "the request ended inside its body", version)
            return None
        body = bytes(buffer[:length])
        del buffer[:length]
        self._body_length = 0
        return body

    def _read_lengthless_body(self) -> bytes | None:
        """
        Read a body that has no length: a command word, or nothing.

        A command word (C{start} or C{stop}, after optional blanks) is the
        body; blanks and line ends after it are skipped before the next
        request.  Bytes that cannot become a
        command word are not a body at all: they are the next request (RFC
        9112 section 6.3 makes such a body empty).  Bytes that could still
        become a command word wait for more, until end of input or a quiet
        peer ends the body as it is.  The result does not depend on how the
        bytes were split into segments.
        """
        buffer = self._buffer
        word_end = _command_word_end(buffer)
        if word_end is None:
            body = b""
        elif word_end > 0:
            body = bytes(buffer[:word_end])
            del buffer[:word_end]
        elif self._eof or self._quiet:
            body = bytes(buffer)
            buffer.clear()
        else:
            return None
        self._lengthless = False
        self._quiet = False
        return body
