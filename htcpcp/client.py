# -*- test-case-name: tests.test_client -*-
"""
The HTCPCP client: a protocol and factory for one connection, a pool of
keep-alive connections, and L{PotClient}, a Deferred API over coffee URLs.

    client = PotClient(timeout=5.0)
    response = await client.brew("coffee://localhost:5030/pot-0", ["Cream", "Whisky"])
    print(response.status, response.body)
    await client.close()

Non-2xx answers are ordinary L{Response}s; only a pot that cannot be
reached (L{PotUnreachable}), does not answer in time (L{PotTimeout}), fails
TLS verification (L{PotTLSError}) or answers gibberish (L{BadResponse})
raises, always a L{ClientError} whose C{str()} is one line a person can read.

Responses are framed by Content-Length, chunked coding or, as the lab's
original server does, by the server closing the connection.  A connection
goes back to the pool only when its response was framed, the server agreed
to keep it open and nothing extra arrived; a cancelled or timed-out request
aborts its connection.  A request on a pooled connection that the server
had closed meanwhile is sent again on a fresh one if it is safe (GET, HEAD,
PROPFIND, OPTIONS); BREW and WHEN are never sent twice.

Two options serve teaching: C{connections="per-request"} opens a new
connection for every request and closes it after the response (so each
exchange shows its own TCP handshake and client port, as the lab's web app
does), and C{dialect="lab"} writes requests as the lab's app does
(L{htcpcp.labdialect}).  C{keylog} records the TLS secrets for Wireshark.

TLS verification is on whenever TLS is used.  Twisted lets a certificate
without subjectAltName through hostname verification (it logs the error and
goes on), so this client checks that the certificate has one before it
sends anything, and refuses it otherwise.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet import error as internet_error
from twisted.internet.defer import CancelledError, Deferred, fail, gatherResults, succeed
from twisted.internet.endpoints import HostnameEndpoint, clientFromString, wrapClientTLS
from twisted.internet.interfaces import (
    IDelayedCall,
    IHandshakeListener,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import ClientFactory, Protocol, connectionDone
from twisted.internet.ssl import Certificate, trustRootFromCertificates
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from htcpcp.labdialect import LAB_SERVER_NAME, lab_request, pot_name_of
from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    ProtocolError,
    Response,
    ResponseParser,
    serialize_request,
)
from htcpcp.tls import KeyLog, client_tls_options, tls_client_endpoint
from htcpcp.urls import TargetError, parse_target

if TYPE_CHECKING:
    from twisted.internet._sslverify import IOpenSSLTrustRoot

__all__ = [
    "DEFAULT_PORT",
    "BadResponse",
    "ClientError",
    "ConnectionPool",
    "Exchange",
    "HTCPCPClientFactory",
    "HTCPCPClientProtocol",
    "InvalidRequest",
    "PotClient",
    "PotClosed",
    "PotCommands",
    "PotTLSError",
    "PotTimeout",
    "PotUnreachable",
]

DEFAULT_PORT: Final = 5030
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "PROPFIND", "OPTIONS"})
"""Methods a client may send twice (RFC 2324 section 2.2.1.1: C{Safe: yes})."""
DIALECTS: Final = ("rfc", "lab")
"""How requests are written: RFC 2324 as this suite sends it, or as the lab's app does."""
CONNECTIONS: Final = ("pooled", "per-request")
"""Keep-alive connections reused from a pool, or a new connection for every request."""
COFFEE_TYPE: Final = "message/coffeepot"
TEA_TYPE: Final = "message/teapot"

log = Logger()


class ClientError(Exception):
    """A request that got no usable response; C{str()} is a one-line explanation."""


class PotUnreachable(ClientError):
    """Refused, unknown host, or the connection was lost before a response."""


class PotTimeout(ClientError):
    """No complete response within the timeout."""


class PotTLSError(ClientError):
    """The server's certificate is untrusted or not valid for its host name."""


class InvalidRequest(ClientError):
    """
    A request that cannot be sent as asked: a target that is not a coffee
    URL or names no host, a bad endpoint string, a header with a line break.
    """


class BadResponse(ClientError):
    """
    The server answered something that is not an HTCPCP response.

    @ivar received: the bytes that arrived, for a protocol inspector.
    """

    def __init__(self, message: str, received: bytes = b"") -> None:
        super().__init__(message)
        self.received = received


class PotClosed(PotUnreachable):
    """The server closed the connection before any of its response arrived."""


@dataclass(frozen=True)
class Exchange:
    """
    One request and what came back, as reported to C{on_exchange}.

    @ivar endpoint: where it was sent (an endpoint string or C{host:port}).
    @ivar request: the bytes sent.
    @ivar response: the raw response bytes, or C{None} when none arrived.
    @ivar status: the response's status code, or C{None}.
    @ivar started: when the request started, in the reactor's seconds.
    @ivar elapsed: seconds until the response or the error.
    @ivar error: the one-line error, or C{None} when a response arrived.
    """

    endpoint: str
    request: bytes
    response: bytes | None
    status: int | None
    started: float
    elapsed: float | None
    error: str | None


def _persistent(response: Response) -> bool:
    """Whether the server keeps the connection open after C{response}."""
    tokens = {t.strip().lower() for t in response.headers.get("connection", "").split(",")}
    if response.version.endswith("/1.0"):
        return "keep-alive" in tokens
    return "close" not in tokens


def _framed(response: Response, head: bool) -> bool:
    """Whether C{response} ended by its own framing rather than by a close."""
    headers = response.headers
    return (
        head
        or response.status in (204, 304)
        or "content-length" in headers
        or "transfer-encoding" in headers
    )


def _tls_error(reason: Failure, where: str, hostname: str) -> PotTLSError | None:
    """The L{PotTLSError} a lost connection stands for, if it is a TLS failure."""
    if reason.check(VerificationError):
        return PotTLSError(
            f"TLS: the certificate of {where} is not valid for the host name {hostname!r}"
        )
    if reason.check(SSL.Error):
        text = str(reason.value)
        if "certificate verify failed" in text:
            return PotTLSError(
                f"TLS: the certificate of {where} is not trusted"
                " (give the server's certificate or its CA as the CA file, --cafile)"
            )
        detail = "; ".join(str(part[-1]) for part in reason.value.args[0] if part[-1]) or text
        return PotTLSError(f"TLS handshake with {where} failed: {detail}")
    return None


def _has_subject_alt_name(certificate: x509.Certificate) -> bool:
    try:
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return True


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
        certificate = self.transport.getPeerCertificate()
        if certificate is None or not _has_subject_alt_name(certificate.to_cryptography()):
            self._refusal = PotTLSError(
                f"TLS: the certificate of {self.where} has no subjectAltName,"
                " so its host name cannot be verified; refusing it"
            )
            self.transport.abortConnection()

    def request(self, data: bytes, head: bool = False) -> Deferred[Response]:
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
        tls = _tls_error(reason, self.where, self.hostname)
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
        self._reusable = _persistent(event) and _framed(event, self._head) and not leftover
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


@dataclass(frozen=True)
class _Route:
    """Where a request goes: its pool key, endpoint and headers."""

    key: str
    where: str
    hostname: str
    host_header: str
    endpoint: IStreamClientEndpoint = field(compare=False)


@dataclass(frozen=True)
class _Idle:
    protocol: HTCPCPClientProtocol
    expiry: IDelayedCall


def _connect_error(reason: Failure, route: _Route) -> Failure:
    """Turn a failed connection attempt into a L{ClientError} failure."""
    if reason.check(CancelledError):
        return reason
    if reason.check(internet_error.ConnectingCancelledError):
        return Failure(CancelledError())
    if reason.check(internet_error.ConnectionRefusedError):
        message = f"{route.where} refused the connection (is the pot server running?)"
    elif reason.check(internet_error.DNSLookupError):
        message = f"cannot find the host {route.hostname!r}"
    elif reason.check(internet_error.TimeoutError):
        return Failure(PotTimeout(f"connecting to {route.where} timed out"))
    else:
        message = f"cannot connect to {route.where}: {reason.getErrorMessage()}"
    return Failure(PotUnreachable(message))


class ConnectionPool:
    """
    Idle keep-alive connections, per destination.

    At most C{max_idle} idle connections are kept per destination (the
    oldest is closed to make room), and each closes after C{idle_timeout}
    seconds unused.
    """

    def __init__(self, clock: IReactorTime, max_idle: int = 4, idle_timeout: float = 30.0) -> None:
        self._clock = clock
        self._max_idle = max_idle
        self._idle_timeout = idle_timeout
        self._idle: dict[str, list[_Idle]] = {}
        self._shutting: set[HTCPCPClientProtocol] = set()
        self._closing = False

    def idle_count(self, key: str | None = None) -> int:
        """Idle connections kept for C{key}, or for every destination."""
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(entries) for entries in self._idle.values())

    def acquire(
        self, route: _Route, fresh: bool = False
    ) -> Deferred[tuple[HTCPCPClientProtocol, bool]]:
        """A connection to C{route} and whether it is a reused one."""
        entries = self._idle.get(route.key, [])
        while entries and not fresh:
            entry = entries.pop()
            entry.expiry.cancel()
            entry.protocol.on_idle_lost = None
            if entry.protocol.reusable:
                return succeed((entry.protocol, True))
        connecting = route.endpoint.connect(HTCPCPClientFactory(route.where, route.hostname))
        connecting.addErrback(_connect_error, route)
        return connecting.addCallback(lambda protocol: (protocol, False))

    def release(self, key: str, protocol: HTCPCPClientProtocol) -> None:
        """Keep C{protocol} for the next request, or close it."""
        if not protocol.reusable:
            return
        if self._closing or self._max_idle <= 0:
            self._shutting.add(protocol)
            protocol.when_closed().addCallback(lambda _: self._shutting.discard(protocol))
            protocol.transport.loseConnection()
            return
        entries = self._idle.setdefault(key, [])
        if len(entries) >= self._max_idle:
            oldest = entries.pop(0)
            oldest.expiry.cancel()
            oldest.protocol.on_idle_lost = None
            oldest.protocol.transport.loseConnection()
        expiry = self._clock.callLater(self._idle_timeout, self._expire, key, protocol)
        entries.append(_Idle(protocol, expiry))
        protocol.on_idle_lost = lambda lost: self._forget(key, lost, cancel=True)

    def _forget(self, key: str, protocol: HTCPCPClientProtocol, cancel: bool) -> None:
        entries = self._idle.get(key, [])
        for entry in entries:
            if entry.protocol is protocol:
                entries.remove(entry)
                if cancel:
                    entry.expiry.cancel()
                break
        if not entries:
            self._idle.pop(key, None)

    def _expire(self, key: str, protocol: HTCPCPClientProtocol) -> None:
        self._forget(key, protocol, cancel=False)
        protocol.on_idle_lost = None
        protocol.transport.loseConnection()

    def close(self) -> Deferred[None]:
        """
        Close every idle connection and wait for those being closed; later
        releases close theirs too.
        """
        self._closing = True
        closing = []
        for entries in self._idle.values():
            for entry in entries:
                entry.expiry.cancel()
                entry.protocol.on_idle_lost = None
                closing.append(entry.protocol.when_closed())
                entry.protocol.transport.loseConnection()
        self._idle.clear()
        closing += [protocol.when_closed() for protocol in self._shutting]
        return gatherResults(closing).addCallback(lambda _: None)


_UNESCAPED_COLON = re.compile(r"(?<!\\):")
_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_BREAK = re.compile(r"[\x00\r\n]")


def _endpoint_authority(description: str) -> tuple[str, str | None]:
    """The host and port a client endpoint string names (C{localhost} if none)."""
    fields = [f.replace("\\:", ":") for f in _UNESCAPED_COLON.split(description)]
    positional = [f for f in fields[1:] if "=" not in f]
    keywords = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
    if fields[0].lower() == "unix":
        return "localhost", None
    host = keywords.get("host") or (positional[0] if positional else "localhost")
    port = keywords.get("port") or (positional[1] if len(positional) > 1 else None)
    return host, port


def _authority(host: str, port: int | str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def load_trust_root(cafile: str | Path) -> IOpenSSLTrustRoot:
    """
    Trust every certificate in the PEM file C{cafile}.

    @raise PotTLSError: when the file cannot be read or holds no certificate.
    """
    path = Path(cafile)
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as error:
        raise PotTLSError(f"cannot read the CA file {path}: {error.strerror}") from error
    except ValueError as error:
        raise PotTLSError(f"the CA file {path} holds no PEM certificate") from error
    return trustRootFromCertificates(
        [Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in certificates]
    )


def with_variety(target: str, variety: str) -> str:
    """C{target} with the tea C{variety} appended to its path (percent-encoded)."""
    path, mark, query = target.partition("?")
    return f"{path.rstrip('/')}/{quote(variety, safe='')}{mark}{query}"


def log_target(target: str, page: int = 1, per_page: int = 50, pot: str | None = None) -> str:
    """The history (C{log}) resource of the server C{target} is on."""
    fields: dict[str, object] = {"page": page, "per_page": per_page}
    if pot:
        fields["pot"] = pot
    query = urlencode(fields)
    if target.startswith("/"):
        return f"/log?{query}"
    scheme, _, rest = target.partition("://")
    authority = rest.partition("/")[0].partition("?")[0]
    return f"{scheme}://{authority}/log?{query}"


class PotCommands(ABC):
    """
    The HTCPCP commands (brew, stop, get, propfind, when, history), built on
    L{request}: a client only has to send requests to have them all.
    """

    @abstractmethod
    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Deferred[Response]:
        """Send one request to C{target} and return its response."""

    def brew(
        self,
        target: str,
        additions: Sequence[str] = (),
        *,
        tea: bool = False,
        variety: str | None = None,
    ) -> Deferred[Response]:
        """
        Start a brew: coffee, or tea with C{tea=True} or a C{variety}.

        The variety is appended to the target's path (C{/pot-1/earl-grey});
        C{additions} go in one C{Accept-Additions} header.
        """
        if variety:
            target = with_variety(target, variety)
            tea = True
        headers = [("Content-Type", TEA_TYPE if tea else COFFEE_TYPE)]
        if additions:
            headers.append(("Accept-Additions", ", ".join(additions)))
        return self.request("BREW", target, headers, b"start")

    def stop(self, target: str, *, tea: bool = False) -> Deferred[Response]:
        """Stop the brew in the pot at C{target}."""
        headers = [("Content-Type", TEA_TYPE if tea else COFFEE_TYPE)]
        return self.request("BREW", target, headers, b"stop")

    def get(self, target: str) -> Deferred[Response]:
        """The state of the pot at C{target} (JSON)."""
        return self.request("GET", target)

    def propfind(self, target: str) -> Deferred[Response]:
        """The properties of the pot at C{target} and of its bean (JSON)."""
        return self.request("PROPFIND", target)

    def when(self, target: str) -> Deferred[Response]:
        """Say when: stop pouring milk into the pot at C{target}."""
        return self.request("WHEN", target)

    def history(
        self, target: str, page: int = 1, per_page: int = 50, *, pot: str | None = None
    ) -> Deferred[Response]:
        """One page of the brew history of C{target}'s server, optionally one pot's."""
        return self.request("GET", log_target(target, page, per_page, pot))


class PotClient(PotCommands):
    """
    Sends HTCPCP requests to pot servers over pooled keep-alive connections.

    @param reactor: the reactor (the global one by default).
    @param endpoint: a client endpoint string every request goes to; without
        it each request goes to its coffee URL's host and port (5030 by
        default).
    @param timeout: seconds each request (connecting included) may take.
    @param tls: wrap connections in TLS, verifying the server's certificate
        and host name.
    @param cafile: a PEM file of the certificates to trust for TLS; without
        it the platform's trust store.
    @param max_idle_per_endpoint: idle connections kept per destination.
    @param idle_timeout: seconds an idle connection is kept.
    @param on_exchange: called with an L{Exchange} after every request.
    @param connections: C{"pooled"} (keep-alive connections reused) or
        C{"per-request"} (a new connection for every request, closed after it).
    @param dialect: C{"rfc"}, or C{"lab"} to write requests as the lab's web
        app does (L{htcpcp.labdialect}; no C{Host}, no C{Content-Length}).
    @param keylog: records the TLS secrets of every connection.
    @raise PotTLSError: if C{cafile} cannot be read.
    @raise InvalidRequest: for an unknown C{connections} or C{dialect}.
    """

    def __init__(
        self,
        reactor: Any = None,
        *,
        endpoint: str | None = None,
        timeout: float = 10.0,
        tls: bool = False,
        cafile: str | None = None,
        max_idle_per_endpoint: int = 4,
        idle_timeout: float = 30.0,
        on_exchange: Callable[[Exchange], object] | None = None,
        connections: str = "pooled",
        dialect: str = "rfc",
        keylog: KeyLog | None = None,
    ) -> None:
        if connections not in CONNECTIONS:
            raise InvalidRequest(f"connections must be one of {', '.join(CONNECTIONS)}")
        if dialect not in DIALECTS:
            raise InvalidRequest(f"dialect must be one of {', '.join(DIALECTS)}")
        if connections == "per-request":
            max_idle_per_endpoint = 0
        self.dialect = dialect
        self._keylog = keylog
        self._pot_names: dict[str, str] = {}
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._endpoint = endpoint
        self._timeout = timeout
        self._tls = tls
        self._trust = load_trust_root(cafile) if cafile else None
        self._on_exchange = on_exchange
        self.pool = ConnectionPool(reactor, max_idle_per_endpoint, idle_timeout)
        self._endpoints: dict[str, IStreamClientEndpoint] = {}
        self._base_endpoint: IStreamClientEndpoint | None = None
        self._wrap_endpoint = False
        if endpoint is not None:
            kind = endpoint.split(":", 1)[0].strip().lower()
            try:
                if keylog is not None and kind == "tls":
                    self._base_endpoint = tls_client_endpoint(reactor, endpoint, keylog)
                else:
                    self._base_endpoint = clientFromString(reactor, endpoint)
            except (ValueError, TypeError, KeyError) as error:
                raise InvalidRequest(f"{endpoint!r} is not a client endpoint: {error}") from error
            self._wrap_endpoint = tls and endpoint.split(":", 1)[0].lower() not in ("tls", "ssl")

    def _route(self, target: str | None) -> _Route:
        url_host: str | None = None
        url_port: int | None = None
        if target is not None:
            if _UNSENDABLE.search(target):
                raise InvalidRequest(f"{target!r} has spaces or control characters in it")
            try:
                parsed = parse_target(target)
            except TargetError as error:
                raise InvalidRequest(f"{target!r} is not a coffee URL: {error.detail}") from error
            url_host, url_port = parsed.host, parsed.port
        if self._endpoint is not None:
            host, port = _endpoint_authority(self._endpoint)
            hostname = url_host or host
            header = _authority(url_host, url_port) if url_host else _authority(host, port)
            key = where = self._endpoint
            if self._wrap_endpoint:
                key = f"{self._endpoint} (TLS for {hostname})"
        elif url_host:
            hostname = url_host
            header = _authority(url_host, url_port)
            where = _authority(url_host, url_port or DEFAULT_PORT)
            key = f"{'tls' if self._tls else 'tcp'}:{where}"
        else:
            raise InvalidRequest(
                f"{target!r} names no host: give a coffee URL such as"
                f" coffee://localhost:{DEFAULT_PORT}/pot-0"
            )
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoints[key] = self._make_endpoint(hostname, url_port)
        return _Route(key, where, hostname, header, endpoint)

    def _make_endpoint(self, hostname: str, port: int | None) -> IStreamClientEndpoint:
        if self._base_endpoint is not None:
            if not self._wrap_endpoint:
                return self._base_endpoint
            endpoint = self._base_endpoint
        else:
            endpoint = HostnameEndpoint(self._reactor, hostname, port or DEFAULT_PORT)
            if not self._tls:
                return endpoint
        return wrapClientTLS(client_tls_options(hostname, self._trust, self._keylog), endpoint)

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Deferred[Response]:
        """
        Send one request and fire with its response, whatever its status.

        C{target} is a coffee URL (any RFC 2324 scheme, or C{tea://}) or, with
        an C{endpoint}, an origin-form path such as C{/pot-1/earl-grey}.  It is
        sent as given, with C{Host} added unless C{headers} has one; in the
        lab dialect it is rewritten as the lab's app writes it.
        """
        try:
            route = self._route(target)
            for name, value in headers:
                if not _HEADER_NAME.match(name) or _HEADER_BREAK.search(value):
                    raise InvalidRequest(f"the header {name!r}: {value!r} cannot be sent")
        except ClientError as error:
            return fail(error)
        if self.dialect == "lab":
            data = lab_request(method, target, headers, body, LAB_SERVER_NAME, self._pot_names)
        else:
            if not any(name.lower() == "host" for name, _ in headers):
                headers = [("Host", route.host_header), *headers]
            data = serialize_request(method, target, headers, body)
        return self._send(route, data, method == "HEAD", method in SAFE_METHODS, fresh=False)

    def send_raw(self, data: bytes, endpoint_target: str | None = None) -> Deferred[Response]:
        """
        Write C{data} as it is on a fresh connection and read one response.

        For showing how a server answers malformed requests.  The connection
        goes to C{endpoint_target}'s host (a coffee URL) or to the configured
        endpoint, and is closed afterwards.
        """
        try:
            route = self._route(endpoint_target)
        except ClientError as error:
            return fail(error)
        head = data.split(b" ", 1)[0] == b"HEAD"
        return self._send(route, data, head, safe=False, fresh=True)

    def close(self) -> Deferred[None]:
        """Close the pooled connections; fires when they are closed."""
        return self.pool.close()

    def _send(
        self, route: _Route, data: bytes, head: bool, safe: bool, fresh: bool
    ) -> Deferred[Response]:
        started = self._reactor.seconds()
        sending = Deferred.fromCoroutine(self._exchange(route, data, head, safe, fresh))
        sending.addTimeout(self._timeout, self._reactor, self._timed_out(route))
        if self.dialect == "lab":
            sending.addCallback(self._learn_name, data)
        if self._on_exchange is not None:
            sending.addBoth(self._report, route, data, started)
        return sending

    def _timed_out(self, route: _Route) -> Callable[[Any, float], Any]:
        def translate(result: Any, timeout: float) -> Any:
            if isinstance(result, Failure) and result.check(CancelledError):
                return Failure(PotTimeout(f"no answer from {route.where} within {timeout:g} s"))
            return result

        return translate

    async def _exchange(
        self, route: _Route, data: bytes, head: bool, safe: bool, fresh: bool
    ) -> Response:
        protocol, reused = await self.pool.acquire(route, fresh)
        try:
            response = await protocol.request(data, head)
        except PotClosed:
            if not (reused and safe):
                raise
            protocol, _ = await self.pool.acquire(route, fresh=True)
            response = await protocol.request(data, head)
        if fresh:
            protocol.transport.loseConnection()
        else:
            self.pool.release(route.key, protocol)
        return response

    def _learn_name(self, response: Response, data: bytes) -> Response:
        """Remember the name of the pot a PROPFIND described, for C{Use-Pot}."""
        if response.status == 200 and data.startswith(b"PROPFIND "):
            learned = pot_name_of(response.body)
            if learned is not None:
                self._pot_names[f"pot-{learned[0]}"] = learned[1]
        return response

    def _report(self, result: Any, route: _Route, data: bytes, started: float) -> Any:
        assert self._on_exchange is not None
        elapsed = self._reactor.seconds() - started
        if isinstance(result, Response):
            exchange = Exchange(route.key, data, result.raw, result.status, started, elapsed, None)
        else:
            received = getattr(result.value, "received", None) or None
            exchange = Exchange(
                route.key, data, received, None, started, elapsed, str(result.value)
            )
        try:
            self._on_exchange(exchange)
        except Exception:
            log.failure("on_exchange failed")
        return result
