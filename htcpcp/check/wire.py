# -*- test-case-name: tests.test_check_wire -*-
"""
Raw connections for the conformance checker: write exact bytes, read
whatever comes back, and say how the connection ended.

Unlike L{htcpcp.client}, nothing here trusts the server: every connection
has a deadline, at most L{MAX_RECEIVED} bytes are read, and bytes that are
not HTTP (no status line, a close with no answer) are kept and described
instead of raised.  Responses are read with the project's own
L{ResponseParser}.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from OpenSSL import SSL
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.ssl import CertificateOptions, optionsForClientTLS, platformTrust
from twisted.python.failure import Failure

from htcpcp.check.model import Attempt, Ending
from htcpcp.client import load_trust_root
from htcpcp.message import NEED_DATA, PEER_CLOSED, ProtocolError, Response, ResponseParser
from htcpcp.transports import IStreamTransport

__all__ = ["MAX_RECEIVED", "Segment", "ServerAddress", "TLSSettings", "exchange", "reachable"]

MAX_RECEIVED: Final = 64 * 1024
"""Bytes read from one connection at most; more ends it (L{Ending.OVERFLOW})."""

_STATUS_LINE: Final = re.compile(rb"[A-Za-z][A-Za-z-]*/\d\.\d \d{3}(?: |\r?$)")


@dataclass(frozen=True)
class TLSSettings:
    """TLS for every connection: verified against C{cafile} (or the system), or not at all."""

    hostname: str
    cafile: str | None = None
    insecure: bool = False

    def creator(self) -> Any:
        if self.insecure:
            return CertificateOptions(verify=False)
        trust = load_trust_root(self.cafile) if self.cafile else platformTrust()
        return optionsForClientTLS(self.hostname, trustRoot=trust)


@dataclass(frozen=True)
class ServerAddress:
    """Where the server under test listens."""

    host: str
    port: int
    tls: TLSSettings | None = None


@dataclass(frozen=True)
class Segment:
    """
    Bytes written as one piece, once C{after_responses} responses (1xx
    included) have been read and C{delay} seconds after the previous write.
    """

    data: bytes
    after_responses: int = 0
    delay: float = 0.0


def parse_responses(
    data: bytes, heads: Sequence[bool], closed: bool
) -> tuple[tuple[Response, ...], str]:
    """Every complete response in C{data}, and what is wrong with the rest (or C{""})."""
    parser = ResponseParser()
    parser.receive_data(data)
    if closed:
        parser.receive_data(b"")
    found: list[Response] = []
    finals = 0
    while True:
        head = heads[finals] if finals < len(heads) else False
        try:
            event = parser.next_event(head_request=head)
        except ProtocolError as error:
            rest = data[sum(len(r.raw) for r in found) :]
            return tuple(found), describe_unreadable(rest, error.detail)
        if event is NEED_DATA or event is PEER_CLOSED:
            return tuple(found), ""
        assert isinstance(event, Response)
        found.append(event)
        if event.status >= 200:
            finals += 1


def describe_unreadable(rest: bytes, detail: str) -> str:
    """Say what a reader of C{rest} (the unreadable bytes) would see."""
    first = rest.split(b"\n", 1)[0]
    if not _STATUS_LINE.match(first):
        return f"no status line: the answer starts {first[:60]!r}"
    return detail


class _Probe(Protocol):
    transport: IStreamTransport

    def __init__(
        self,
        segments: Sequence[Segment],
        finals: int,
        heads: Sequence[bool],
        read_to_close: bool,
        timeout: float,
        clock: Any,
    ) -> None:
        self._segments = list(segments)
        self._finals = finals
        self._heads = heads
        self._read_to_close = read_to_close
        self._timeout = timeout
        self._clock = clock
        self._sent = bytearray()
        self._received = bytearray()
        self._written_at = clock.seconds()
        self._pending: IDelayedCall | None = None
        self._deadline: IDelayedCall | None = None
        self._ending: Ending | None = None
        self._problem = ""
        self.done: Deferred[tuple[bytes, bytes, Ending, tuple[Response, ...], str]] = Deferred()

    def connectionMade(self) -> None:
        self._arm_deadline()
        self._next_segment(0)

    def _arm_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = self._clock.callLater(self._timeout, self._finish, Ending.TIMEOUT)

    def _next_segment(self, answered: int) -> None:
        if not self._segments or self._pending is not None or self._ending is not None:
            return
        segment = self._segments[0]
        if answered < segment.after_responses:
            return
        wait = max(0.0, self._written_at + segment.delay - self._clock.seconds())
        self._pending = self._clock.callLater(wait, self._write)

    def _write(self) -> None:
        self._pending = None
        segment = self._segments.pop(0)
        self._sent += segment.data
        self.transport.write(segment.data)
        self._written_at = self._clock.seconds()
        self._arm_deadline()
        self._progress(closed=False)

    def dataReceived(self, data: bytes) -> None:
        room = MAX_RECEIVED - len(self._received)
        self._received += data[:room]
        if len(data) > room:
            self._finish(Ending.OVERFLOW)
            return
        self._progress(closed=False)

    def _progress(self, closed: bool) -> None:
        responses, problem = parse_responses(bytes(self._received), self._heads, closed)
        self._problem = problem
        if problem and not closed:
            self._finish(Ending.ANSWERED)
            return
        self._next_segment(len(responses))
        finals = sum(1 for r in responses if r.status >= 200)
        if not self._segments and finals >= self._finals and not self._read_to_close:
            self._finish(Ending.ANSWERED)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._ending is None:
            if reason.check(SSL.Error):
                self._problem = f"TLS failed: {reason.getErrorMessage()}"
            self._finish(Ending.CLOSED, lost=True)

    def _finish(self, ending: Ending, lost: bool = False) -> None:
        if self._ending is not None:
            return
        self._ending = ending
        for call in (self._pending, self._deadline):
            if call is not None and call.active():
                call.cancel()
        if not lost:
            self.transport.abortConnection()
        responses, problem = parse_responses(
            bytes(self._received), self._heads, ending is Ending.CLOSED
        )
        self.done.callback(
            (bytes(self._sent), bytes(self._received), ending, responses, problem or self._problem)
        )


def _endpoint(reactor: Any, server: ServerAddress, timeout: float) -> Any:
    endpoint = HostnameEndpoint(reactor, server.host, server.port, timeout=timeout)
    if server.tls is not None:
        return wrapClientTLS(server.tls.creator(), endpoint)
    return endpoint


async def exchange(
    reactor: Any,
    server: ServerAddress,
    segments: Sequence[Segment],
    *,
    finals: int = 1,
    heads: Sequence[bool] = (),
    read_to_close: bool = False,
    timeout: float = 3.0,
) -> Attempt:
    """
    Open a new connection, write C{segments}, and read until C{finals} final
    responses arrived (or, with C{read_to_close}, until the server closes),
    the server closes, or C{timeout} seconds pass after the last write.

    @param heads: for each final response, whether it answers a HEAD.
    """
    started = reactor.seconds()
    probe = _Probe(segments, finals, heads, read_to_close, timeout, reactor)
    connecting = connectProtocol(_endpoint(reactor, server, timeout), probe)
    connecting.addTimeout(timeout, reactor)
    try:
        await connecting
    except Exception as error:
        return Attempt(
            b"".join(s.data for s in segments),
            b"",
            Ending.REFUSED,
            reactor.seconds() - started,
            error=f"cannot connect to {server.host}:{server.port}: {error or type(error).__name__}",
        )
    sent, received, ending, responses, problem = await probe.done
    return Attempt(sent, received, ending, reactor.seconds() - started, responses, problem)


async def reachable(reactor: Any, server: ServerAddress, timeout: float) -> bool:
    """Whether a TCP connection to C{server} can be made (TLS not attempted)."""
    endpoint = HostnameEndpoint(reactor, server.host, server.port, timeout=timeout)
    connecting = connectProtocol(endpoint, Protocol())
    connecting.addTimeout(timeout, reactor)
    try:
        protocol = await connecting
    except Exception:
        return False
    protocol.transport.abortConnection()
    return True
