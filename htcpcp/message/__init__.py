# -*- test-case-name: tests.test_message -*-
"""
Sans-IO HTCPCP message parsing and writing: bytes in, events out.

Nothing here touches a socket, a clock or Twisted.  The server feeds
received bytes to a L{RequestParser} and pulls L{Request} events; the client
does the same with a L{ResponseParser}.  Every way a peer can misbehave ends
in a L{ProtocolError} that carries the status code to answer with, so the
caller never needs to look inside the parser.

The package's modules, each one job (as h11's are):

    events     Request, Response, the sentinels, ProtocolError, Limits, keeps_alive
    headers    where a head ends, header lines, Host, Expect, Content-Length
    chunked    the chunked transfer coding
    memo       ParseMemo: what parsers remember of lines they have read
    requests   RequestParser, the server's reader
    responses  ResponseParser, the client's reader
    writers    serialize_request, serialize_response
"""

from htcpcp.message.events import (
    DEFAULT_LIMITS,
    HIGHEST_MINOR,
    NEED_DATA,
    PEER_CLOSED,
    REASONS,
    VERSIONS,
    Headers,
    Limits,
    NeedData,
    PeerClosed,
    ProtocolError,
    Request,
    Response,
    keeps_alive,
    reply_version,
)
from htcpcp.message.memo import ParseMemo
from htcpcp.message.requests import RequestParser
from htcpcp.message.responses import ResponseParser
from htcpcp.message.writers import serialize_request, serialize_response

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
    "ParseMemo",
    "PeerClosed",
    "ProtocolError",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "keeps_alive",
    "reply_version",
    "serialize_request",
    "serialize_response",
]
