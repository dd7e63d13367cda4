"""
Tests for L{htcpcp.client}: the client protocol and pool in memory (on a
L{MemoryReactorClock}), and L{PotClient} against real pot servers, plain
and TLS, and against stand-in servers on loopback.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from service_identity import CertificateError
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.task import deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.client import (
    BadResponse,
    Exchange,
    HTCPCPClientFactory,
    HTCPCPClientProtocol,
    InvalidRequest,
    PotClient,
    PotTimeout,
    PotTLSError,
    PotUnreachable,
    Wire,
    load_trust_root,
    log_target,
    with_variety,
)
from htcpcp.config import Config, default_config
from htcpcp.message import Request, RequestParser
from htcpcp.service import PotServer, buildPotServer
from htcpcp.storage import History
from htcpcp.tls import self_signed_pem

from .helpers import eventually

OK_BODY = b'{"state": "idle"}'


# ---------------------------------------------------------------- helpers


class CountingFactory(Factory):
    """Wraps a server factory and counts the connections it accepted."""

    def __init__(self, inner: Factory) -> None:
        self.inner = inner
        self.accepted = 0

    def buildProtocol(self, addr: object) -> Protocol | None:
        self.accepted += 1
        return self.inner.buildProtocol(addr)


@dataclass
class RunningPot:
    """A pot server listening on loopback."""

    server: PotServer
    counter: CountingFactory
    port: int
    certificate: Path | None = None

    def url(self, path: str = "/pot-0", host: str = "localhost", scheme: str = "coffee") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


def write_pem(case: TestCase, pem: bytes, name: str = "cert.pem") -> Path:
    path = Path(case.mktemp())
    path.mkdir()
    path = path / name
    path.write_bytes(pem)
    return path


async def start_pot(
    case: TestCase,
    *,
    tls_names: list[str] | None = None,
    subject_alt_names: bool = True,
    config: Config | None = None,
    history: bool = False,
) -> RunningPot:
    """
    Start a pot server on 127.0.0.1 (TLS with a certificate for C{tls_names},
    named in its common name only unless C{subject_alt_names}), stopped, with
    its connections closed, when the test ends.
    """
    store = None
    if history:
        directory = Path(case.mktemp())
        directory.mkdir()
        store = History(str(directory / "history.sqlite3"))
    server = buildPotServer(config or default_config().with_brew_time(30.0), store)
    counter = CountingFactory(server.factory)
    certificate = None
    if tls_names is None:
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(counter)
    else:
        if subject_alt_names:
            both, alone = self_signed_pem(tls_names, ["127.0.0.1"])
        else:
            both, alone = san_less_pem(tls_names[0])
        certificate = write_pem(case, alone)
        options = PrivateCertificate.loadPEM(both).options()
        endpoint = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
        listening = await endpoint.listen(counter)

    async def stop() -> None:
        await listening.stopListening()
        for _ in range(200):
            if not server.factory.connections:
                break
            await deferLater(reactor, 0.01)
        await server.close()

    case.addCleanup(lambda: Deferred.fromCoroutine(stop()))
    return RunningPot(server, counter, listening.getHost().port, certificate)


def start_client(case: TestCase, **options: object) -> PotClient:
    """A L{PotClient} on the global reactor, closed when the test ends."""
    client = PotClient(reactor, **options)  # type: ignore[arg-type]
    case.addCleanup(client.close)
    return client


class StandIn(Protocol):
    """A stand-in server: answers each request with C{answer(request, count)}."""

    def __init__(self, answer: Callable[[Request, int], bytes | None], closing: bool) -> None:
        self.answer = answer
        self.closing = closing
        self.parser = RequestParser()
        self.count = 0

    def dataReceived(self, data: bytes) -> None:
        self.parser.receive_data(data)
        while isinstance(event := self.parser.next_event(), Request):
            self.count += 1
            reply = self.answer(event, self.count)
            if reply is None:
                self.transport.loseConnection()
                return
            self.transport.write(reply)
            if self.closing:
                self.transport.loseConnection()
                return


class StandInFactory(Factory):
    """Builds L{StandIn}s and records the requests they get."""

    def __init__(self, answer: Callable[[Request, int], bytes | None], closing: bool) -> None:
        self.answer = answer
        self.closing = closing
        self.accepted = 0
        self.requests: list[Request] = []
        self.open: list[StandIn] = []

    def buildProtocol(self, addr: object) -> StandIn:
        self.accepted += 1

        def record(request: Request, count: int) -> bytes | None:
            self.requests.append(request)
            return self.answer(request, count)

        built = StandIn(record, self.closing)
        self.open.append(built)
        return built


async def start_stand_in(
    case: TestCase, answer: Callable[[Request, int], bytes | None], closing: bool = False
) -> tuple[StandInFactory, int]:
    """
    Listen on loopback with a L{StandInFactory} (closing after each answer if
    C{closing}); its connections are aborted when the test ends.
    """
    factory = StandInFactory(answer, closing)
    listening: IListeningPort = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
        factory
    )

    async def stop() -> None:
        await listening.stopListening()
        for protocol in factory.open:
            if protocol.transport.connected:
                protocol.transport.abortConnection()
        await deferLater(reactor, 0.05)

    case.addCleanup(lambda: Deferred.fromCoroutine(stop()))
    return factory, listening.getHost().port


class Banner(Protocol):
    """Writes a plain-text line as soon as it is connected, and closes."""

    def connectionMade(self) -> None:
        self.transport.write(b"HTCPCP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        self.transport.loseConnection()


def lab_answer(request: Request, count: int) -> bytes:
    """What the lab's original pot server wrote: no Content-Length, then close."""
    return (
        b"HTCPCP/1.1 200 OK\r\nServer: CoffeePot\r\nContent-Type: message/coffeepot\r\n"
        b"Date: Tue, 27 Jun 2023 17:55:35\r\n\r\n" + request.method.encode() + b" done"
    )


def chunked_answer(request: Request, count: int) -> bytes:
    """A keep-alive server that frames its answers in chunked coding."""
    body = f"answer {count} to {request.method}".encode()
    return (
        b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body) - 3:x}\r\n".encode()
        + body[:-3]
        + b"\r\n3\r\n"
        + body[-3:]
        + b"\r\n0\r\n\r\n"
    )


def once_per_connection(request: Request, count: int) -> bytes | None:
    """Answers the first request on a connection; closes on the second, unanswered."""
    if count > 1:
        return None
    return b"HTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def san_less_pem(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate naming C{name} only in its common name."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    alone = certificate.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + alone, alone


# ---------------------------------------------------------------- in memory


class MemoryClientTests(SynchronousTestCase):
    """L{PotClient} on a L{MemoryReactorClock}: bytes, timeouts, pooling."""

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.exchanges: list[Exchange] = []
        self.client = PotClient(
            self.reactor,
            timeout=5.0,
            idle_timeout=30.0,
            max_idle_per_endpoint=2,
            on_exchange=self.exchanges.append,
        )

    def connect(self, index: int = -1) -> tuple[HTCPCPClientProtocol, StringTransport]:
        """Complete the connection attempt number C{index}."""
        factory = self.reactor.tcpClients[index][2]
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        client = protocol._wrappedProtocol
        while not isinstance(client, HTCPCPClientProtocol):
            client = client._wrappedProtocol
        return client, transport

    def test_brew_bytes(self) -> None:
        """BREW: version HTCPCP/1.1, Host, media type, joined additions, a framed body."""
        self.client.brew("coffee://pot.example:5031/pot-0", ["Cream", "Whisky"])
        self.assertEqual(self.reactor.tcpClients[0][:2], ("127.0.0.1", 5031))
        _, transport = self.connect()
        self.assertEqual(
            transport.value(),
            b"BREW coffee://pot.example:5031/pot-0 HTCPCP/1.1\r\n"
            b"Host: pot.example:5031\r\n"
            b"Content-Type: message/coffeepot\r\n"
            b"Accept-Additions: Cream, Whisky\r\n"
            b"Content-Length: 5\r\n\r\nstart",
        )

    def test_default_port(self) -> None:
        """A coffee URL without a port goes to 5030, and Host names no port."""
        self.client.get("coffee://pot.example/pot-0")
        self.assertEqual(self.reactor.tcpClients[0][1], 5030)
        _, transport = self.connect()
        self.assertIn(b"\r\nHost: pot.example\r\n", transport.value())

    def test_tea_variety_and_stop(self) -> None:
        """A variety is appended to the path and sent as message/teapot; stop sends stop."""
        self.client.brew("tea://pot.example/pot-1?Milk", variety="earl-grey")
        _, transport = self.connect()
        self.assertTrue(
            transport.value().startswith(b"BREW tea://pot.example/pot-1/earl-grey?Milk HTCPCP/1.1")
        )
        self.assertIn(b"Content-Type: message/teapot\r\n", transport.value())
        self.client.stop("tea://pot.example/pot-1", tea=True)
        _, transport = self.connect()
        self.assertIn(b"Content-Type: message/teapot\r\n", transport.value())
        self.assertTrue(transport.value().endswith(b"\r\n\r\nstop"))

    def test_methods(self) -> None:
        """get, propfind, when and history send their methods and targets."""
        url = "coffee://pot.example/pot-0"
        expected = [
            (self.client.get, b"GET coffee://pot.example/pot-0 "),
            (self.client.propfind, b"PROPFIND coffee://pot.example/pot-0 "),
            (self.client.when, b"WHEN coffee://pot.example/pot-0 "),
            (
                lambda u: self.client.history(u, page=2, per_page=5),
                b"GET coffee://pot.example/log?page=2&per_page=5 ",
            ),
        ]
        for call, start in expected:
            call(url)
            _, transport = self.connect()
            self.assertTrue(transport.value().startswith(start), transport.value())

    def test_endpoint_and_origin_form(self) -> None:
        """With an endpoint, a path goes there, with the endpoint's host as Host."""
        client = PotClient(self.reactor, endpoint="tcp:pot.example:6000")
        client.request("OPTIONS", "/pot-1", [("X-Test", "1")])
        self.assertEqual(self.reactor.tcpClients[0][:2], ("pot.example", 6000))
        _, transport = self.connect()
        self.assertEqual(
            transport.value(),
            b"OPTIONS /pot-1 HTCPCP/1.1\r\nHost: pot.example:6000\r\nX-Test: 1\r\n\r\n",
        )

    def test_invalid_requests(self) -> None:
        """
        Nothing is sent for a path without an endpoint, an unknown scheme, a
        target with spaces or line breaks, or a header that would split.
        """
        self.failureResultOf(self.client.get("/pot-0"), InvalidRequest)
        failure = self.failureResultOf(self.client.get("http://x/pot-0"), InvalidRequest)
        self.assertIn("not a coffee URL", str(failure.value))
        for target in ("coffee://x/pot-0 HTCPCP/1.1\r\nX: y", "coffee://x/pot 0"):
            self.failureResultOf(self.client.get(target), InvalidRequest)
        injected = self.client.brew("coffee://x/pot-0", ["Cream\r\nUse-Pot: tea"])
        self.assertIn("cannot be sent", str(self.failureResultOf(injected, InvalidRequest).value))
        self.failureResultOf(
            self.client.request("GET", "coffee://x/", [("Bad Name", "1")]), InvalidRequest
        )
        self.assertEqual(self.reactor.tcpClients, [])
        error = self.assertRaises(InvalidRequest, PotClient, self.reactor, endpoint="nonsense:1:2")
        self.assertIn("'nonsense:1:2' is not a client endpoint", str(error))

    def test_response_and_reuse(self) -> None:
        """A framed keep-alive response fires the Deferred; the connection is reused."""
        first = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + OK_BODY)
        response = self.successResultOf(first)
        self.assertEqual((response.status, response.body), (200, OK_BODY))
        self.assertFalse(transport.disconnecting)
        self.assertEqual(self.client.pool.idle_count(), 1)
        transport.clear()
        second = self.client.get("coffee://pot.example/pot-0")
        self.assertEqual(len(self.reactor.tcpClients), 1)
        self.assertTrue(transport.value().startswith(b"GET "))
        protocol.dataReceived(b"HTCPCP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(self.successResultOf(second).status, 404)

    def test_response_in_pieces(self) -> None:
        """A response arriving a byte at a time is read whole."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, _ = self.connect()
        for byte in b"HTCPCP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + OK_BODY:
            self.assertNoResult(got)
            protocol.dataReceived(bytes([byte]))
        self.assertEqual(self.successResultOf(got).body, OK_BODY)

    def test_read_to_close(self) -> None:
        """A response with no length ends when the server closes; nothing is pooled."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, _ = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Type: message/coffeepot\r\n\r\n{}")
        self.assertNoResult(got)
        protocol.dataReceived(b" more")
        protocol.connectionLost(Failure(ConnectionDone()))
        response = self.successResultOf(got)
        self.assertEqual(response.body, b"{} more")
        self.assertEqual(self.client.pool.idle_count(), 0)

    def test_not_reused(self) -> None:
        """Connection: close, HTCPCP/1.0 without keep-alive, or extra bytes: not pooled."""
        answers = [
            b"HTCPCP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            b"HTCPCP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTCPCP/1.1 200 OK\r\n",
        ]
        for answer in answers:
            got = self.client.get("coffee://pot.example/pot-0")
            protocol, transport = self.connect()
            protocol.dataReceived(answer)
            self.assertEqual(self.successResultOf(got).status, 200)
            self.assertTrue(transport.disconnecting, answer)
            self.assertEqual(self.client.pool.idle_count(), 0, answer)
        kept = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(
            b"HTCPCP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        )
        self.successResultOf(kept)
        self.assertFalse(transport.disconnecting)

    def test_head_response(self) -> None:
        """The answer to HEAD has no body, whatever its Content-Length says."""
        got = self.client.request("HEAD", "coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n")
        self.assertEqual(self.successResultOf(got).body, b"")
        self.assertFalse(transport.disconnecting)

    def test_unreadable_response(self) -> None:
        """Gibberish is a BadResponse carrying what arrived; the connection is aborted."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        failure = self.failureResultOf(got, BadResponse)
        self.assertEqual(failure.value.received, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        self.assertIn("unreadable response", str(failure.value))
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.exchanges[-1].response, b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    def test_closed_mid_response(self) -> None:
        """A close inside a framed body is a BadResponse."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, _ = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(got, BadResponse)

    def test_timeout_never_answered(self) -> None:
        """A server that never answers: PotTimeout after the timeout, connection aborted."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        self.reactor.advance(4.9)
        self.assertNoResult(got)
        self.reactor.advance(0.1)
        failure = self.failureResultOf(got, PotTimeout)
        self.assertEqual(str(failure.value), "no answer from pot.example:5030 within 5 s")
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.client.pool.idle_count(), 0)
        self.client.get("coffee://pot.example/pot-0")
        self.assertEqual(len(self.reactor.tcpClients), 2)
        self.assertEqual(self.exchanges[0].error, str(failure.value))
        self.assertEqual(self.exchanges[0].elapsed, 5.0)

    def test_timeout_connecting(self) -> None:
        """A connection attempt that never completes times out too."""
        got = self.client.get("coffee://pot.example/pot-0")
        self.reactor.advance(5)
        self.failureResultOf(got, PotTimeout)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_timeout_on_pooled_connection(self) -> None:
        """A reused connection that stops answering times out and is not reused."""
        first = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.successResultOf(first)
        second = self.client.brew("coffee://pot.example/pot-0")
        self.reactor.advance(5)
        self.failureResultOf(second, PotTimeout)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.client.pool.idle_count(), 0)

    def test_cancel(self) -> None:
        """Cancelling aborts the connection and pools nothing."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        got.cancel()
        self.failureResultOf(got, CancelledError)
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.client.pool.idle_count(), 0)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_idle_connections_bounded_and_expire(self) -> None:
        """At most max_idle_per_endpoint idle connections; each closes after idle_timeout."""
        pending = [self.client.get("coffee://pot.example/pot-0") for _ in range(3)]
        connections = [self.connect(i) for i in range(3)]
        for protocol, _ in connections:
            protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        for each in pending:
            self.successResultOf(each)
        self.assertEqual(self.client.pool.idle_count(), 2)
        self.assertEqual([t.disconnecting for _, t in connections], [True, False, False])
        self.reactor.advance(29)
        self.assertFalse(connections[1][1].disconnecting)
        self.reactor.advance(1)
        self.assertEqual([t.disconnecting for _, t in connections], [True, True, True])
        self.assertEqual(self.client.pool.idle_count(), 0)

    def test_idle_connection_closed_by_server(self) -> None:
        """A pooled connection the server closes leaves the pool and its timer is cancelled."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, _ = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.successResultOf(got)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.client.pool.idle_count(), 0)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_close(self) -> None:
        """close() closes idle connections and fires once they are closed."""
        got = self.client.get("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        protocol.dataReceived(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.successResultOf(got)
        closing = self.client.close()
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(closing)
        protocol.connectionLost(Failure(ConnectionDone()))
        self.successResultOf(closing)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_exchange_report(self) -> None:
        """on_exchange gets the request, the raw response, status, times and connection."""
        self.reactor.advance(100)
        got = self.client.propfind("coffee://pot.example/pot-0")
        protocol, transport = self.connect()
        self.reactor.advance(0.25)
        answer = b"HTCPCP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + OK_BODY
        protocol.dataReceived(answer)
        self.successResultOf(got)
        self.assertEqual(
            self.exchanges,
            [
                Exchange(
                    "tcp:pot.example:5030",
                    transport.value(),
                    answer,
                    200,
                    100.0,
                    0.25,
                    None,
                    Wire(("10.0.0.1", 12345), ("192.168.1.1", 54321), True, 100.0, False),
                )
            ],
        )

    def test_send_raw(self) -> None:
        """send_raw writes the bytes as given on a fresh connection, closed afterwards."""
        got = self.client.send_raw(b"FOO / HTCPCP/1.1\r\n\r\n", "coffee://pot.example/")
        protocol, transport = self.connect()
        self.assertEqual(transport.value(), b"FOO / HTCPCP/1.1\r\n\r\n")
        protocol.dataReceived(b"HTCPCP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(self.successResultOf(got).status, 501)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.client.pool.idle_count(), 0)
        self.assertEqual(self.exchanges[-1].status, 501)

    def test_factory(self) -> None:
        """The factory builds client protocols that know their peer."""
        protocol = HTCPCPClientFactory("pot.example:5030", "pot.example").buildProtocol(None)
        self.assertIsInstance(protocol, HTCPCPClientProtocol)
        self.assertEqual((protocol.where, protocol.hostname), ("pot.example:5030", "pot.example"))

    def test_one_request_at_a_time(self) -> None:
        """A protocol refuses a second request while one is outstanding."""
        protocol = HTCPCPClientProtocol()
        protocol.makeConnection(StringTransport())
        protocol.request(b"GET / HTCPCP/1.1\r\n\r\n")
        self.assertRaises(RuntimeError, protocol.request, b"GET / HTCPCP/1.1\r\n\r\n")


class HelperTests(SynchronousTestCase):
    def test_with_variety(self) -> None:
        self.assertEqual(with_variety("/pot-1", "green"), "/pot-1/green")
        self.assertEqual(with_variety("tea://h/pot-1/?Milk", "green"), "tea://h/pot-1/green?Milk")
        self.assertEqual(with_variety("/pot-1", "white tea/2"), "/pot-1/white%20tea%2F2")

    def test_log_target(self) -> None:
        self.assertEqual(log_target("/pot-0"), "/log?page=1&per_page=50")
        self.assertEqual(
            log_target("koffie://h:1/pot-0/x?Cream", 3, 10, pot="the pot&more"),
            "koffie://h:1/log?page=3&per_page=10&pot=the+pot%26more",
        )

    def test_cafile_errors(self) -> None:
        """An unreadable CA file or one without certificates is a clear PotTLSError."""
        error = self.assertRaises(PotTLSError, load_trust_root, "/nonexistent/ca.pem")
        self.assertIn("cannot read the CA file /nonexistent/ca.pem", str(error))
        path = Path(self.mktemp())
        path.write_text("not a certificate")
        error = self.assertRaises(PotTLSError, PotClient, MemoryReactorClock(), cafile=str(path))
        self.assertIn("holds no PEM certificate", str(error))


# ---------------------------------------------------------------- on loopback


class PotServerTests(TestCase):
    """Every request against the real pot server, plain TCP."""

    async def test_coffee(self) -> None:
        """brew, get, propfind, a second brew (409), stop, over one connection."""
        pot = await start_pot(self)
        client = start_client(self)
        brewed = await client.brew(pot.url(), ["Cream", "Whisky"])
        self.assertEqual(brewed.status, 200)
        self.assertEqual(json.loads(brewed.body)["additions"], ["Cream", "Whisky"])
        state = await client.get(pot.url())
        self.assertEqual(json.loads(state.body)["state"], "brewing")
        properties = await client.propfind(pot.url(scheme="koffie"))
        self.assertEqual(json.loads(properties.body)["pot"]["name"], "ducky")
        busy = await client.brew(pot.url())
        self.assertEqual(busy.status, 409)
        self.assertIn("retry-after", busy.headers)
        stopped = await client.stop(pot.url())
        self.assertEqual(json.loads(stopped.body)["outcome"], "stopped")
        self.assertEqual(pot.counter.accepted, 1)

    async def test_refusals(self) -> None:
        """418, 300 with Alternates and 406 with the catalogue come back as responses."""
        pot = await start_pot(self)
        client = start_client(self)
        teapot = await client.brew(pot.url("/pot-1"))
        self.assertEqual(teapot.status, 418)
        choose = await client.brew(pot.url("/pot-1", scheme="tea"), tea=True)
        self.assertEqual(choose.status, 300)
        self.assertIn('"/pot-1/earl-grey" {type message/teapot}', choose.headers["alternates"])
        missing = await client.brew(pot.url(), ["Tea"])
        self.assertEqual(missing.status, 406)
        self.assertIn(b"Whisky", missing.body)

    async def test_tea_and_when(self) -> None:
        """A tea variety brews; WHEN stops the milk once it pours."""
        pot = await start_pot(self, config=default_config().with_brew_time(0.1))
        client = start_client(self)
        tea = await client.brew(pot.url("/pot-1", scheme="tea"), ["Lemon"], variety="darjeeling")
        self.assertEqual(json.loads(tea.body)["variety"], "darjeeling")
        nothing = await client.when(pot.url())
        self.assertEqual(nothing.status, 409)
        await client.brew(pot.url(), ["Cream"])
        await deferLater(reactor, 0.3)
        said = await client.when(pot.url())
        self.assertEqual(said.status, 200)
        self.assertNotEqual(json.loads(said.body)["pour_milk_stop"], "")

    async def test_history(self) -> None:
        """history() reads the server's paginated log."""
        pot = await start_pot(self, history=True)
        client = start_client(self)
        await client.brew(pot.url(), ["Sugar"])
        await client.stop(pot.url())
        page = await client.history(pot.url(), per_page=1)
        listing = json.loads(page.body)
        self.assertEqual((listing["total"], listing["per_page"]), (1, 1))
        self.assertEqual(listing["brews"][0]["additions"], ["Sugar"])

    async def test_ten_calls_one_connection(self) -> None:
        """Ten sequential calls through one client use one connection, server-side."""
        pot = await start_pot(self)
        client = start_client(self)
        for _ in range(5):
            await client.get(pot.url())
            await client.propfind(pot.url())
        self.assertEqual(pot.counter.accepted, 1)
        self.assertEqual(pot.server.factory.connections, 1)

    async def test_endpoint_string(self) -> None:
        """A client endpoint string with origin-form paths reaches the server."""
        pot = await start_pot(self)
        client = start_client(self, endpoint=f"tcp:127.0.0.1:{pot.port}")
        response = await client.brew("/pot-1", variety="green")
        self.assertEqual(json.loads(response.body)["variety"], "green")

    async def test_send_raw(self) -> None:
        """Raw bytes get the server's answer to them, on a connection of their own."""
        pot = await start_pot(self)
        client = start_client(self, endpoint=f"tcp:127.0.0.1:{pot.port}")
        response = await client.send_raw(b"FLY /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(response.status, 501)
        bad = await client.send_raw(b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: text/plain\r\n\r\n")
        self.assertEqual(bad.status, 415)
        self.assertEqual(pot.counter.accepted, 2)

    async def test_refused(self) -> None:
        """Nothing listening: PotUnreachable saying the connection was refused."""
        client = start_client(self)
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory())
        free = listening.getHost().port
        await listening.stopListening()
        with self.assertRaises(PotUnreachable) as caught:
            await client.get(f"coffee://127.0.0.1:{free}/pot-0")
        self.assertEqual(
            str(caught.exception),
            f"127.0.0.1:{free} refused the connection (is the pot server running?)",
        )


class StandInServerTests(TestCase):
    """Servers that frame their answers differently, or drop pooled connections."""

    async def test_lab_server(self) -> None:
        """No Content-Length and a close: read to close, a new connection each time."""
        factory, port = await start_stand_in(self, lab_answer, closing=True)
        client = start_client(self)
        for method in ("BREW", "GET"):
            response = await client.request(method, f"coffee://127.0.0.1:{port}/", body=b"start")
            self.assertEqual(response.body, method.encode() + b" done")
            self.assertEqual(response.headers["server"], "CoffeePot")
        self.assertEqual(factory.accepted, 2)
        self.assertEqual(client.pool.idle_count(), 0)

    async def test_chunked_keep_alive_server(self) -> None:
        """Chunked answers on a persistent connection: decoded, and the connection reused."""
        factory, port = await start_stand_in(self, chunked_answer)
        client = start_client(self, endpoint=f"tcp:127.0.0.1:{port}")
        bodies = [(await client.get("/pot-0")).body for _ in range(3)]
        self.assertEqual(bodies, [f"answer {n} to GET".encode() for n in (1, 2, 3)])
        self.assertEqual(factory.accepted, 1)

    async def test_safe_request_retried_once(self) -> None:
        """A GET on a pooled connection the server dropped is sent again on a new one."""
        factory, port = await start_stand_in(self, once_per_connection)
        client = start_client(self, endpoint=f"tcp:127.0.0.1:{port}")
        await client.get("/pot-0")
        response = await client.get("/pot-0")
        self.assertEqual(response.body, b"ok")
        self.assertEqual(factory.accepted, 2)
        self.assertEqual(len(factory.requests), 3)

    async def test_unsafe_request_not_retried(self) -> None:
        """A BREW on a dropped pooled connection fails; it is not sent twice."""
        factory, port = await start_stand_in(self, once_per_connection)
        client = start_client(self, endpoint=f"tcp:127.0.0.1:{port}")
        await client.get("/pot-0")
        with self.assertRaises(PotUnreachable) as caught:
            await client.brew("/pot-0")
        self.assertIn("closed the connection without answering", str(caught.exception))
        self.assertEqual(factory.accepted, 1)
        self.assertEqual([r.method for r in factory.requests], ["GET", "BREW"])

    async def test_silent_server(self) -> None:
        """A server that never answers: PotTimeout after the timeout, connection aborted."""
        factory, port = await start_stand_in(self, lambda request, count: b"")
        client = start_client(self, timeout=0.2)
        with self.assertRaises(PotTimeout):
            await client.get(f"coffee://127.0.0.1:{port}/pot-0")
        await eventually(lambda: not factory.open[0].transport.connected)
        self.assertEqual(client.pool.idle_count(), 0)


class TLSTests(TestCase):
    """TLS with certificate and host name verification."""

    async def test_verified(self) -> None:
        """With the server's certificate as CA file, by name and by address, pooled."""
        pot = await start_pot(self, tls_names=["localhost"])
        client = start_client(self, tls=True, cafile=str(pot.certificate))
        brewed = await client.brew(pot.url(), ["Cream"])
        self.assertEqual(brewed.status, 200)
        for _ in range(3):
            self.assertEqual((await client.get(pot.url())).status, 200)
        self.assertEqual((await client.propfind(pot.url(host="127.0.0.1"))).status, 200)
        self.assertEqual(pot.counter.accepted, 2)

    async def test_tls_endpoint_string(self) -> None:
        """A tls: client endpoint with trustRoots works with origin-form paths."""
        pot = await start_pot(self, tls_names=["localhost"])
        assert pot.certificate is not None
        client = start_client(
            self, endpoint=f"tls:localhost:{pot.port}:trustRoots={pot.certificate.parent}"
        )
        self.assertEqual((await client.get("/pot-0")).status, 200)

    async def test_untrusted(self) -> None:
        """--tls without trusting the certificate is refused, and nothing is brewed."""
        pot = await start_pot(self, tls_names=["localhost"])
        client = start_client(self, tls=True)
        with self.assertRaises(PotTLSError) as caught:
            await client.brew(pot.url())
        self.assertEqual(
            str(caught.exception),
            f"TLS: the certificate of localhost:{pot.port} is not trusted"
            " (give the server's certificate or its CA as the CA file, --cafile)",
        )
        self.assertIsNone(pot.server.pots[0].current)

    async def test_other_host_name(self) -> None:
        """A trusted certificate for another host name is refused."""
        pot = await start_pot(self, tls_names=["elsewhere.example"])
        client = start_client(
            self,
            tls=True,
            cafile=str(pot.certificate),
            endpoint=f"tcp:127.0.0.1:{pot.port}",
        )
        with self.assertRaises(PotTLSError) as caught:
            await client.brew("coffee://localhost/pot-0")
        self.assertIn("is not valid for the host name 'localhost'", str(caught.exception))
        self.assertIsNone(pot.server.pots[0].current)

    async def test_no_subject_alt_name(self) -> None:
        """A trusted certificate without subjectAltName is refused before anything is sent."""
        pot = await start_pot(self, tls_names=["localhost"], subject_alt_names=False)
        client = start_client(self, tls=True, cafile=str(pot.certificate))
        with self.assertRaises(PotTLSError) as caught:
            await client.brew(pot.url())
        self.assertEqual(
            str(caught.exception),
            f"TLS: the certificate of localhost:{pot.port} has no subjectAltName,"
            " so its host name cannot be verified; refusing it",
        )
        self.assertIsNone(pot.server.pots[0].current)
        self.assertTrue(self.flushLoggedErrors(CertificateError))

    async def test_tls_to_plain_server(self) -> None:
        """TLS to a server that does not speak it: a one-line TLS error."""
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Banner)
        )
        self.addCleanup(listening.stopListening)
        port = listening.getHost().port
        _, alone = self_signed_pem(["localhost"])
        client = start_client(self, tls=True, cafile=str(write_pem(self, alone)))
        with self.assertRaises(PotTLSError) as caught:
            await client.get(f"coffee://localhost:{port}/pot-0")
        self.assertTrue(str(caught.exception).startswith(f"TLS handshake with localhost:{port}"))
        self.assertNotIn("\n", str(caught.exception))
