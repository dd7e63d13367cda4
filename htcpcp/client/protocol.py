# -*- test-case-name: tests.test_client -*-
"""
One client connection: a protocol that sends one request at a time and
reads its response with the sans-IO L{ResponseParser}, and its factory.

A connection can carry another request only when its response was framed
(not ended by a close), the server keeps the connection open
(L{Response.keep_alive}, read from the response) and nothing extra
arrived.
"""

from __future__ import annotations

from collections.abc import Callable

from OpenSSL.crypto import X509
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IHandshakeListener, ISSLTransport
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from htcpcp.client.errors import BadResponse, ClientError, PotClosed, PotTLSError
from htcpcp.client.tls import has_subject_alt_name, tls_error
from htcpcp.message import NEED_DATA, PEER_CLOSED, ProtocolError, Response, ResponseParser
from htcpcp.transports import IStreamTransport

__all__ = ["HTCPCPClientFactory", "HTCPCPClientProtocol"]


def _framed(response: Response, head: bool) -> bool:
    """Whether C{response} ended by its own framing rather than by a close."""
    headers = response.headers
    return (
        head
        or response.status in (204, 304)
        or "content-length" in headers
        or "transfer-encoding" in headers
    )


@implementer(IHandshakeListener)
class HTCPCPClientProtocol(Protocol):
    """
    One client connection: sends one request at a time, reads its response.

    Over TLS the server's certificate must have a subjectAltName: Twisted
    calls L{handshakeCompleted} before it sends any request written while
    the handshake was going on, and a certificate without one is refused
    there, so such a request is never sent.

    @ivar where: the peer, for error messages.
    @ivar hostname: the name the server's certificate is checked against.
    @ivar on_idle_lost: called when the connection closes between requests.
    """

    transport: IStreamTransport

    def __init__(self, where: str = "the pot", hostname: str = "") -> None:
        self.where = where
        self.hostname = hostname
        self.on_idle_lost: Callable[[HTCPCPClientProtocol], object] | None = None
        self._parser = ResponseParser()
        self._waiting: Deferred[Response] | None = None
        self._head = False
        self._received = bytearray()
        self._refusal: ClientError | None = None
        self._reusable = False
        self._lost = False
        self._closed: list[Deferred[None]] = []

    @property
    def reusable(self) -> bool:
        """Whether another request may be sent on this connection."""
        return self._reusable and not self._lost and self._waiting is None

    def connectionMade(self) -> None:
        self._reusable = True

    def handshakeCompleted(self) -> None:
        certificate = ISSLTransport(self.transport).getPeerCertificate()
        named = isinstance(certificate, X509) and has_subject_alt_name(
            certificate.to_cryptography()
        )
        if not named:
            self._refusal = PotTLSError(
                f"TLS: the certificate of {self.where} has no subjectAltName,"
                " so its host name cannot be verified; refusing it"
            )
            self.transport.abortConnection()

    def request(self, data: bytes, *, head: bool = False) -> Deferred[Response]:
        """
        Send C{data} (one serialized request) and fire with its response.

        Cancelling the Deferred aborts the connection.
        """
        if self._waiting is not None:
            raise RuntimeError("a request is already in progress on this connection")
        if self._lost or not self._reusable:
            return fail(PotClosed(f"the connection to {self.where} is closed"))
        waiting: Deferred[Response] = Deferred(self._cancel)
        self._waiting = waiting
        self._head = head
        self._received.clear()
        self._reusable = False
        self.transport.write(data)
        return waiting

    def when_closed(self) -> Deferred[None]:
        """Fires when the connection has closed."""
        if self._lost:
            return succeed(None)
        closed: Deferred[None] = Deferred()
        self._closed.append(closed)
        return closed

    def _cancel(self, waiting: Deferred[Response]) -> None:
        self._waiting = None
        self.transport.abortConnection()

    def dataReceived(self, data: bytes) -> None:
        if self._waiting is None:
            self.transport.abortConnection()
            return
        self._received += data
        self._parser.receive_data(data)
        self._deliver()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._lost = True
        waiting = self._waiting
        if waiting is not None:
            self._parser.receive_data(b"")
            if not self._deliver():
                self._waiting = None
                waiting.errback(self._loss_error(reason))
        elif self.on_idle_lost is not None:
            self.on_idle_lost(self)
        closed, self._closed = self._closed, []
        for each in closed:
            each.callback(None)

    def _loss_error(self, reason: Failure) -> ClientError:
        if self._refusal is not None:
            return self._refusal
        tls = tls_error(reason, self.where, self.hostname)
        if tls is not None:
            return tls
        if not self._received:
            return PotClosed(f"{self.where} closed the connection without answering")
        return BadResponse(
            f"{self.where} closed the connection in the middle of a response", bytes(self._received)
        )

    def _deliver(self) -> bool:
        """Fire the waiting Deferred if its response is complete; say whether it fired."""
        waiting = self._waiting
        assert waiting is not None
        try:
            event = self._parser.next_event(head_request=self._head)
        except ProtocolError as error:
            self._waiting = None
            self.transport.abortConnection()
            waiting.errback(
                BadResponse(
                    f"{self.where} sent an unreadable response: {error.detail}",
                    bytes(self._received),
                )
            )
            return True
        if event is NEED_DATA or event is PEER_CLOSED:
            return False
        assert isinstance(event, Response)
        self._waiting = None
        leftover = len(self._received) - len(event.raw)
        self._reusable = event.keep_alive and _framed(event, self._head) and not leftover
        if not self._reusable and not self._lost:
            self.transport.loseConnection()
        waiting.callback(event)
        return True


class HTCPCPClientFactory(ClientFactory):
    """
    Builds L{HTCPCPClientProtocol}s for one destination.

    @param where: the destination, for error messages.
    @param hostname: the name a TLS certificate must be valid for.
    """

    protocol = HTCPCPClientProtocol

    def __init__(self, where: str = "the pot", hostname: str = "") -> None:
        self.where = where
        self.hostname = hostname

    def buildProtocol(self, addr: object) -> HTCPCPClientProtocol:
        built = HTCPCPClientProtocol(self.where, self.hostname)
        built.factory = self
        return built
