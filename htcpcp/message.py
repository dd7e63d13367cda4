"""
Sans-IO HTCPCP message parsing and writing: bytes in, events out.

Nothing here touches a socket, a clock or Twisted.  The server feeds
received bytes to a L{RequestParser} and pulls L{Request} events; the client
does the same with a L{ResponseParser}.  Every way a peer can misbehave ends
in a L{ProtocolError} that carries the status code to answer with, so the
caller never needs to look inside the parser.

Framing follows HTTP/1.1 with the lab's quirks: lines end in CRLF or a bare
LF; a BREW or POST without Content-Length or Transfer-Encoding carries a
"length-less" body that ends at a line end, at end of input, as soon as it
is a complete command word, or when the caller says the peer has gone
quiet (L{RequestParser.end_lengthless_body}).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, NamedTuple

from htcpcp.cache import BoundedCache

__all__ = [
    "NEED_DATA",
    "PEER_CLOSED",
    "REASONS",
    "Limits",
    "ProtocolError",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "reply_version",
    "serialize_request",
    "serialize_response",
]


class _Sentinel:
    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEED_DATA: Final = _Sentinel("NEED_DATA")
"""More bytes are needed before the next event."""

PEER_CLOSED: Final = _Sentinel("PEER_CLOSED")
"""The peer closed its side between messages."""

REASONS: Final[Mapping[int, str]] = {
    100: "Continue",
    200: "OK",
    300: "Multiple Options",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    417: "Expectation Failed",
    418: "I'm a teapot",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
}

VERSIONS: Final[Mapping[bytes, str]] = {
    b"HTCPCP/1.0": "HTCPCP/1.0",
    b"HTCPCP/1.1": "HTCPCP/1.1",
    b"HTCPCP-TEA/1.0": "HTCPCP-TEA/1.0",
    b"HTTP/1.0": "HTTP/1.0",
    b"HTTP/1.1": "HTTP/1.1",
}
"""Request versions this suite speaks, mapped to their text."""

HIGHEST_MINOR: Final[Mapping[bytes, str]] = {
    b"HTTP/1": "HTTP/1.1",
    b"HTCPCP/1": "HTCPCP/1.1",
    b"HTCPCP-TEA/1": "HTCPCP-TEA/1.0",
}
"""A later minor version of a known major is served as its highest known one (RFC 9110 2.5)."""

LENGTHLESS_BODY_METHODS: Final = frozenset({"BREW", "POST"})
COMMAND_WORDS: Final = frozenset({b"start", b"stop"})
MAX_CHUNK_LINE: Final = 256
MAX_REMEMBERED_LINE: Final = 256

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_VERSION_SHAPE = re.compile(rb"[A-Za-z][A-Za-z-]*/\d+\.\d+\Z")
_CHUNK_SIZE = re.compile(rb"0*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\Z")
_STATUS_LINE = re.compile(rb"([A-Za-z][A-Za-z-]*/\d\.\d) (\d{3})(?: (.*))?\Z")
_KNOWN_METHODS = frozenset({b"BREW", b"POST", b"GET", b"HEAD", b"PROPFIND", b"WHEN", b"OPTIONS"})
_BAD_VALUE_BYTES = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_HOST = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?\Z")
_HTTP_TARGET_SCHEMES: Final = ("http://", "https://")


@dataclass(frozen=True)
class Limits:
    """
    Sizes beyond which a message is refused.

    @ivar request_line: longest request (or status) line, in bytes (414).
    @ivar header_line: longest single header line (431).
    @ivar header_bytes: all header lines together (431).
    @ivar header_count: most header lines (431).
    @ivar body: largest body (413).
    """

    request_line: int = 8 * 1024
    header_line: int = 16 * 1024
    header_bytes: int = 16 * 1024
    header_count: int = 100
    body: int = 1024


DEFAULT_LIMITS: Final = Limits()


class ProtocolError(Exception):
    """
    The peer sent something this suite cannot accept.

    @ivar status: the status code to answer with.
    @ivar detail: a short explanation fit to show the peer.
    @ivar version: the version to answer with: the request's family (see
        L{reply_version}) once its request line was read.
    """

    def __init__(self, status: int, detail: str, version: str = "HTCPCP/1.1") -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail
        self.version = version


Headers = Mapping[str, str]


class Request(NamedTuple):
    """
    One complete request.

    Header names are lower-case; repeated headers are joined with ", ".
    """

    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""
    keep_alive: bool = True
    lengthless_body: bool = False

    @property
    def reply_version(self) -> str:
        """The version of the status line that answers this request."""
        return reply_version(self.version, self.target)


def reply_version(version: str, target: str) -> str:
    """
    The status line's version for a request of C{version} for C{target}.

    An C{HTTP/1.x} request for an origin-form (C{/pot-0}), asterisk or
    C{http(s)://} target comes from an HTTP tool (curl, a browser, an HTTP
    library) and is answered in HTTP, which those tools can read.  Every
    other request is answered in HTCPCP: C{coffee:}-family targets and
    HTCPCP versions (the lab's clients send C{HTTP/1.1} with
    C{coffee://ducky} and expect C{HTCPCP/1.1}).
    """
    if not version.startswith("HTTP/"):
        return version
    if target[:1] in ("/", "*") or target[:8].lower().startswith(_HTTP_TARGET_SCHEMES):
        return version
    return "HTCPCP/1.0" if version == "HTTP/1.0" else "HTCPCP/1.1"


@dataclass(frozen=True, slots=True)
class Response:
    """One complete response, as a client reads it."""

    version: str
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    raw: bytes = field(default=b"", repr=False)


def _keep_alive(version: str, headers: Headers) -> bool:
    connection = headers.get("connection")
    if connection is None:
        return not version.endswith("/1.0")
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version.endswith("/1.0"):
        return "keep-alive" in tokens
    return "close" not in tokens


def _check_header_sizes(lines: list[bytes], limits: Limits, version: str) -> None:
    """Refuse header lines (split, line ends removed) over the size limits."""
    if len(lines) > limits.header_count:
        raise ProtocolError(431, f"more than {limits.header_count} header lines", version)
    if sum(len(line) + 1 for line in lines) - 1 > limits.header_bytes:
        raise ProtocolError(431, "the headers are too large", version)
    if any(len(line.rstrip(b"\r")) > limits.header_line for line in lines):
        raise ProtocolError(431, "a header line is too long", version)


_HEADER_LINES: Final = BoundedCache(1024)
"""Header lines already read, and what they said: the same lines recur."""


def _parse_header_line(line: bytes, version: str) -> tuple[str, str]:
    """Parse one header line (without LF) into a lower-case name and its value."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if line[:1] in (b" ", b"\t"):
        raise ProtocolError(400, "folded header lines are not accepted", version)
    name, sep, value = line.partition(b":")
    if not sep or not _TOKEN.match(name):
        raise ProtocolError(400, "malformed header line", version)
    value = value.strip(b" \t")
    if _BAD_VALUE_BYTES.search(value):
        raise ProtocolError(400, "control character in a header value", version)
    return name.decode("ascii").lower(), value.decode("latin-1")


def _parse_header_lines(lines: list[bytes], version: str) -> dict[str, str]:
    """Parse header lines (already split, without line ends) into a dict."""
    headers: dict[str, str] = {}
    known = _HEADER_LINES
    for line in lines:
        field = known.get(line)
        if field is None:
            field = _parse_header_line(line, version)
            if len(line) <= MAX_REMEMBERED_LINE:
                known.remember(line, field)
        key, text = field
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise ProtocolError(400, "conflicting Content-Length headers", version)
            if key == "host":
                raise ProtocolError(400, "more than one Host header", version)
            if key != "content-length":
                text = headers[key] + ", " + text
        headers[key] = text
    return headers


def _content_length(value: str, limits: Limits, version: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise ProtocolError(400, "Content-Length is not a number", version)
    digits = value.lstrip("0")
    if len(digits) > len(str(limits.body)) or int(digits or "0") > limits.body:
        raise ProtocolError(413, f"bodies are limited to {limits.body} bytes", version)
    return int(digits or "0")


class _ChunkedBody:
    """
    Incremental decoder for a chunked body.

    Trailer lines are read and dropped, within the limits of header lines
    (L{Limits.header_line}, L{Limits.header_bytes}, L{Limits.header_count}).
    The bytes it consumes are kept in L{raw} when asked for (a client
    showing the exchange).
    """

    def __init__(self, limits: Limits, version: str, keep_raw: bool = False) -> None:
        self._limits = limits
        self._version = version
        self._remaining = -1
        self._in_trailers = False
        self._trailer_lines = 0
        self._trailer_bytes = 0
        self.body = bytearray()
        self.raw: bytearray | None = bytearray() if keep_raw else None

    def _take(self, buffer: bytearray, count: int) -> bytes:
        taken = bytes(buffer[:count])
        del buffer[:count]
        if self.raw is not None:
            self.raw += taken
        return taken

    def feed(self, buffer: bytearray) -> bool:
        """Consume what it can from C{buffer}; C{True} once the body is complete."""
        while True:
            if self._remaining > 0:
                take = min(self._remaining, len(buffer))
                if not take:
                    return False
                self.body += self._take(buffer, take)
                self._remaining -= take
                continue
            end = buffer.find(b"\n")
            line_end = len(buffer) if end < 0 else end
            self._check_line_length(line_end - (buffer[line_end - 1 : line_end] == b"\r"))
            if end < 0:
                return False
            line = self._take(buffer, end + 1)[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if self._in_trailers:
                if not line:
                    return True
                self._count_trailer(line)
                continue
            if self._remaining == 0:
                if line:
                    raise ProtocolError(400, "chunk data does not end with CRLF", self._version)
                self._remaining = -1
                continue
            self._chunk_size(line)

    def _check_line_length(self, length: int) -> None:
        if self._in_trailers:
            if length > self._limits.header_line:
                raise ProtocolError(431, "a trailer line is too long", self._version)
        elif length > MAX_CHUNK_LINE:
            raise ProtocolError(400, "chunk size line too long", self._version)

    def _count_trailer(self, line: bytes) -> None:
        limits = self._limits
        self._trailer_lines += 1
        self._trailer_bytes += len(line) + 2
        if self._trailer_lines > limits.header_count:
            raise ProtocolError(
                431, f"more than {limits.header_count} trailer lines", self._version
            )
        if self._trailer_bytes > limits.header_bytes:
            raise ProtocolError(431, "the trailers are too large", self._version)

    def _chunk_size(self, line: bytes) -> None:
        match = _CHUNK_SIZE.match(line)
        if match is None:
            raise ProtocolError(400, "malformed chunk size", self._version)
        digits = match.group(1)
        limit = self._limits.body - len(self.body)
        if len(digits) > 16 or int(digits, 16) > limit:
            raise ProtocolError(
                413, f"bodies are limited to {self._limits.body} bytes", self._version
            )
        size = int(digits, 16)
        if size == 0:
            self._in_trailers = True
        else:
            self._remaining = size


_BLANKS_BEFORE_HEAD: Final = b" \t\r\n"
"""Skipped before a request line: line ends (RFC 9112 2.2), and blanks after a command word."""
_REQUEST_LINES: Final = BoundedCache(1024)
"""Request lines already read, and what they said: clients repeat them."""


class _Head(NamedTuple):
    """What a request head says: the request (without its body) and how its body is framed."""

    request: Request
    limits: Limits
    body_length: int
    chunked: bool
    expects_continue: bool


MAX_REMEMBERED_HEAD: Final = 1024
_HEADS: Final = BoundedCache[bytes, _Head](1024)
"""Whole heads already read: a client repeating itself sends the same head each time."""


HEAD_SEARCH_WINDOW: Final = 2048
"""Bytes searched at first for a head's end; the window doubles until it is found."""


def _find_head_end(buffer: bytearray, start: int = 0) -> tuple[int, int] | None:
    """
    Find the blank line that ends a head: where it starts and where it ends.

    Lines end in CRLF or a bare LF, so the head ends at the first LF
    followed by an LF or a CRLF; the blank line starts at the CR before
    that LF, if there is one.  Two searches in C, much cheaper than a
    regular expression for the same thing, made in a window that doubles
    until it holds the end: a buffer of many pipelined requests costs
    what its first head does, not what the whole buffer does.
    """
    size = len(buffer)
    window = HEAD_SEARCH_WINDOW
    while True:
        stop = min(size, start + window)
        bare = buffer.find(b"\n\n", start, stop)
        crlf = buffer.find(b"\n\r\n", start, bare + 3 if bare >= 0 else stop)
        if crlf >= 0 and (bare < 0 or crlf < bare):
            line_feed, end = crlf, crlf + 3
            break
        if bare >= 0:
            line_feed, end = bare, bare + 2
            break
        if stop == size:
            return None
        window *= 2
    if line_feed and buffer[line_feed - 1] == 13:
        return line_feed - 1, end
    return line_feed, end


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
    if method not in _KNOWN_METHODS and not _TOKEN.match(method):
        raise ProtocolError(400, "the method is not a token", answer)
    if not target or _BAD_VALUE_BYTES.search(target):
        raise ProtocolError(400, "the request target is malformed", answer)
    return method.decode("ascii"), text_target, version


def _read_request_line(line: bytes, limits: Limits) -> tuple[str, str, str]:
    """L{_parse_request_line}, remembered: clients repeat their request lines."""
    known = _REQUEST_LINES.get(line)
    if known is None:
        known = _parse_request_line(line, limits)
        if len(line) <= MAX_REMEMBERED_LINE:
            _REQUEST_LINES.remember(line, known)
    return known


def _check_host(headers: Headers, version: str, target: str, answer: str) -> None:
    """
    RFC 9112 section 3.2: a valid Host, and one on every HTTP/1.1 request in origin form.

    A request in absolute form needs none: the lab's clients send
    C{coffee://ducky} without a Host, the one deviation this server makes.
    """
    host = headers.get("host")
    if host is None:
        if version == "HTTP/1.1" and target[:1] in ("/", "*"):
            raise ProtocolError(400, "an HTTP/1.1 request needs a Host header", answer)
    elif not _HOST.match(host):
        raise ProtocolError(400, "the Host header is not host[:port]", answer)


def _check_expect(headers: Headers, answer: str) -> bool:
    """Whether the request waits for C{100 Continue}; any other expectation is refused (417)."""
    expect = headers.get("expect")
    if expect is None:
        return False
    if expect.strip().lower() != "100-continue":
        raise ProtocolError(417, "the only expectation this server meets is 100-continue", answer)
    return True


class RequestParser:
    """
    Turns the bytes of one connection into L{Request} events.

    Call L{receive_data} with what arrived (C{b""} for end of input), then
    L{next_event} until it returns L{NEED_DATA}.  A L{ProtocolError} means the
    connection must be answered with its status and closed.
    """

    _eof = False
    _closing = False
    _scan_from = 0
    _pending: Request | None = None
    _chunked: _ChunkedBody | None = None
    _lengthless = False
    _body_length = 0
    _quiet = False
    _continue = False
    _error: ProtocolError | None = None

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
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

    def next_event(self) -> Request | _Sentinel:
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

    def _next_event(self) -> Request | _Sentinel:
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
        found = _find_head_end(buffer, max(0, self._scan_from - 3))
        if found is None:
            self._check_incomplete_head()
            self._scan_from = len(buffer)
            return None
        head_end, blank_line_end = found
        head = bytes(buffer[:head_end])
        del buffer[:blank_line_end]
        self._scan_from = 0
        known = _HEADS.get(head)
        if known is None or known.limits is not self._limits:
            known = self._parse_head(head)
            if len(head) <= MAX_REMEMBERED_HEAD:
                _HEADS.remember(head, known)
        request = known.request
        if known.body_length:
            self._body_length = known.body_length
            self._continue = known.expects_continue
        elif known.chunked:
            self._chunked = _ChunkedBody(self._limits, request.reply_version)
            self._continue = known.expects_continue
        elif request.lengthless_body:
            self._lengthless = True
        return request

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
        _, target, version = _read_request_line(bytes(buffer[:first_end]), limits)
        answer = reply_version(version, target)
        if buffer.count(b"\n", first_end + 1) > limits.header_count:
            raise ProtocolError(431, f"more than {limits.header_count} header lines", answer)
        raise ProtocolError(431, "the headers are too large", answer)

    def _parse_head(self, head: bytes) -> _Head:
        limits = self._limits
        lines = head.split(b"\n")
        first = lines[0]
        method, target, version = _read_request_line(first, limits)
        answer = reply_version(version, target)
        small_headers = min(limits.header_bytes, limits.header_line)
        if len(head) - len(first) > small_headers or len(lines) > limits.header_count:
            _check_header_sizes(lines[1:], limits, answer)
        headers = _parse_header_lines(lines[1:], answer) if len(lines) > 1 else {}
        _check_host(headers, version, target, answer)
        body_length, chunked, lengthless = 0, False, False
        if "transfer-encoding" in headers or "content-length" in headers:
            body_length, chunked = self._body_framing(headers, answer)
        else:
            lengthless = method in LENGTHLESS_BODY_METHODS
        expects_continue = _check_expect(headers, answer)
        request = Request(
            method,
            target,
            version,
            MappingProxyType(headers),
            b"",
            _keep_alive(version, headers),
            lengthless,
        )
        return _Head(request, limits, body_length, chunked, expects_continue)

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
        return _content_length(cl.strip(), self._limits, version), False

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
    for word in COMMAND_WORDS:
        if candidate.startswith(word):
            return start + len(word)
    if start + len(candidate) == len(buffer) and any(
        word.startswith(candidate) for word in COMMAND_WORDS
    ):
        return 0
    return None


class _ResponseHead(NamedTuple):
    version: str
    status: int
    reason: str
    headers: Headers


class ResponseParser:
    """
    Turns the bytes a client receives into L{Response} events.

    Bodies are framed by Content-Length, chunked coding, or (as the lab's
    original server does) by the server closing the connection.  Call
    L{next_event} with C{head_request=True} for the answer to a HEAD.
    The parser keeps its place between calls: a head is read once, and a
    body arriving in many segments costs what it would in one.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits(body=1024 * 1024)
        self._buffer = bytearray()
        self._eof = False
        self._scan_from = 0
        self._head: _ResponseHead | None = None
        self._raw = bytearray()
        self._body = bytearray()
        self._chunked: _ChunkedBody | None = None
        self._remaining: int | None = None

    def receive_data(self, data: bytes) -> None:
        """Add received bytes; C{b""} means the server closed its side."""
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self, head_request: bool = False) -> Response | _Sentinel:
        """Return the next L{Response}, L{NEED_DATA} or L{PEER_CLOSED}."""
        head = self._head
        if head is None:
            head = self._read_head(head_request)
            if not isinstance(head, _ResponseHead):
                return head
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

    def _read_head(self, head_request: bool) -> _ResponseHead | _Sentinel:
        buffer = self._buffer
        found = _find_head_end(buffer, max(0, self._scan_from - 3))
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
        _check_header_sizes(lines[1:], self._limits, version)
        headers = _parse_header_lines(lines[1:], version)
        self._raw += buffer[:blank_line_end]
        del buffer[:blank_line_end]
        if head_request or status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        elif "transfer-encoding" in headers:
            self._chunked = _ChunkedBody(self._limits, version, keep_raw=True)
        elif "content-length" in headers:
            self._remaining = _content_length(
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


def serialize_response(
    version: str, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
) -> bytes:
    """Write a response; the caller supplies every header, Content-Length included."""
    lines = [f"{version} {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def serialize_request(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTCPCP/1.1",
) -> bytes:
    """Write a request; Content-Length is added when there is a body."""
    lines = [f"{method} {target} {version}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
