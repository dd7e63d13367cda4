# -*- test-case-name: tests.test_message -*-
"""
What the wire core hands out: requests, responses, the two sentinels, and
the error that ends a connection.

These are plain values; the readers in L{htcpcp.message.requests} and
L{htcpcp.message.responses} make them, the writers in
L{htcpcp.message.writers} turn them back into bytes.  The persistence rule
(L{keeps_alive}) lives here, once, for both sides: a server reads it from
a request, a client from a response.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

__all__ = [
    "DEFAULT_LIMITS",
    "HIGHEST_MINOR",
    "NEED_DATA",
    "PEER_CLOSED",
    "REASONS",
    "VERSIONS",
    "Headers",
    "Limits",
    "NeedData",
    "PeerClosed",
    "ProtocolError",
    "Request",
    "Response",
    "keeps_alive",
    "reply_version",
]


class NeedData(enum.Enum):
    """The type of L{NEED_DATA}: one member, so C{event is NEED_DATA} narrows."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return self.value


class PeerClosed(enum.Enum):
    """The type of L{PEER_CLOSED}: one member, so C{event is PEER_CLOSED} narrows."""

    PEER_CLOSED = "PEER_CLOSED"

    def __repr__(self) -> str:
        return self.value


NEED_DATA: Final = NeedData.NEED_DATA
"""More bytes are needed before the next event."""

PEER_CLOSED: Final = PeerClosed.PEER_CLOSED
"""The peer closed its side between messages."""

Sentinel = Literal[NeedData.NEED_DATA, PeerClosed.PEER_CLOSED]
"""Either sentinel: what C{next_event} returns when it has no message."""

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


def keeps_alive(version: str, headers: Headers) -> bool:
    """
    Whether the connection stays open after a message of C{version} with C{headers}.

    As in HTTP/1.1: a 1.1 message keeps it unless C{Connection: close}; a
    1.0 message closes it unless C{Connection: keep-alive}.
    """
    connection = headers.get("connection")
    if connection is None:
        return not version.endswith("/1.0")
    tokens = {t.strip().lower() for t in connection.split(",")}
    if version.endswith("/1.0"):
        return "keep-alive" in tokens
    return "close" not in tokens


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

    @property
    def keep_alive(self) -> bool:
        """Whether the server keeps the connection open after this response."""
        return keeps_alive(self.version, self.headers)
