"""
Hostile clients against the real pot server on loopback.

Slow-loris heads, connection floods, half-closed sockets, resets in the
middle of a body, TLS on a plain port, and non-UTF-8 or NUL bytes in every
field: the server must answer each with a clear status or a close, never
crash, never leak a connection, and keep serving everyone else.
"""

from __future__ import annotations

import resource
import socket
import time
from dataclasses import replace
from pathlib import Path

from twisted.internet import defer, reactor, task, threads
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from htcpcp.config import default_config
from htcpcp.service import buildPotServer
from htcpcp.storage import History

SLOW_CLIENTS = 1000


class RecordingClient(Protocol):
    """Sends what it is told and keeps everything it receives."""

    def __init__(
        self, greeting: bytes = b"", trickle: list[bytes] | None = None, every: float = 0.25
    ) -> None:
        self.received = b""
        self.closed: defer.Deferred[bytes] = defer.Deferred()
        self._greeting = greeting
        self._trickle = list(trickle or [])
        self._every = every
        self._loop: task.LoopingCall | None = None

    def connectionMade(self) -> None:
        if self._greeting:
            self.transport.write(self._greeting)
        if self._trickle:
            self._loop = task.LoopingCall(self._next)
            self._loop.start(self._every, now=False)

    def _next(self) -> None:
        if self._trickle:
            self.transport.write(self._trickle.pop(0))

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self.closed.callback(self.received)


def send_until_refused(port: int, seconds: float = 10) -> socket.socket:
    """
    Send pipelined GETs without reading a byte until the server stops reading
    (half a second without progress); return the still-open socket.
    """
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.setblocking(False)
    requests = b"GET /pot-0 HTCPCP/1.1\r\n\r\n" * 1000
    deadline = time.monotonic() + seconds
    stalled_since = None
    while time.monotonic() < deadline:
        try:
            client.send(requests)
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 0.5:
                return client
            time.sleep(0.01)
    client.close()
    raise AssertionError("the server never stopped reading")


class HostileTests(TestCase):
    timeout = 120

    async def setUp(self) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = min(hard, 4 * SLOW_CLIENTS + 256)
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        self.history = History(str(Path(self.mktemp() + ".sqlite3").absolute()))
        config = replace(
            default_config().with_brew_time(0.2),
            request_timeout=1.5,
            body_quiet_time=0.5,
            idle_timeout=2.0,
        )
        self.server = buildPotServer(config, self.history)
        endpoint = TCP4ServerEndpoint(reactor, 0, backlog=2048, interface="127.0.0.1")
        self.port = await endpoint.listen(self.server.factory)
        self.addCleanup(self._stop)

    async def _stop(self) -> None:
        await self.port.stopListening()
        for pot in self.server.pots:
            pot.shutdown()
        self.history.close()

    async def connect(self, client: RecordingClient) -> RecordingClient:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port.getHost().port)
        return await connectProtocol(endpoint, client)

    async def exchange(self, data: bytes) -> bytes:
        client = await self.connect(
            RecordingClient(data + b"GET /pot-0 HTCPCP/1.1\r\nConnection: close\r\n\r\n")
        )
        return await client.closed

    async def assertServesNormally(self) -> None:
        client = await self.connect(
            RecordingClient(b"GET coffee://ducky/pot-1 HTCPCP/1.1\r\nConnection: close\r\n\r\n")
        )
        received = await client.closed
        self.assertTrue(received.startswith(b"HTCPCP/1.1 200 OK"), received[:80])

    async def assertNoConnectionsLeft(self, seconds: float = 5) -> None:
        for _ in range(int(seconds / 0.05)):
            if self.server.factory.connections == 0:
                return
            await task.deferLater(reactor, 0.05, lambda: None)
        self.fail(f"{self.server.factory.connections} connections left open")

    async def test_slow_loris_cut_off_while_others_served(self) -> None:
        trickle = [b"X-Slow-%d: 1\r\n" % i for i in range(40)]
        slow = await defer.gatherResults(
            [
                defer.Deferred.fromCoroutine(
                    self.connect(RecordingClient(b"GET /pot-0 HTCPCP/1.1\r\n", trickle, every=0.25))
                )
                for _ in range(SLOW_CLIENTS)
            ]
        )
        await self.assertServesNormally()
        answers = await defer.gatherResults([client.closed for client in slow])
        self.assertEqual(
            {answer.split(b"\r\n", 1)[0] for answer in answers},
            {b"HTCPCP/1.1 408 Request Timeout"},
        )
        await self.assertNoConnectionsLeft()
        await self.assertServesNormally()

    async def test_connection_flood(self) -> None:
        clients = await defer.gatherResults(
            [defer.Deferred.fromCoroutine(self.connect(RecordingClient())) for _ in range(500)]
        )
        for client in clients:
            client.transport.abortConnection()
        await defer.gatherResults([client.closed for client in clients])
        await self.assertNoConnectionsLeft()
        await self.assertServesNormally()

    async def test_half_closed_sockets(self) -> None:
        partial = await self.connect(RecordingClient(b"GET /pot-0 HTCPCP/1.1\r\nX-Part"))
        partial.transport.loseWriteConnection()
        self.assertTrue((await partial.closed).startswith(b"HTCPCP/1.1 400 "))
        lab = await self.connect(
            RecordingClient(
                b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command"
                b"\r\n\r\nsta"
            )
        )
        lab.transport.loseWriteConnection()
        answer = await lab.closed
        self.assertTrue(answer.startswith(b"HTCPCP/1.1 400 "), answer[:60])
        full = await self.connect(
            RecordingClient(
                b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command"
                b"\r\n\r\nstart"
            )
        )
        full.transport.loseWriteConnection()
        self.assertTrue((await full.closed).startswith(b"HTCPCP/1.1 200 OK"))
        await self.assertNoConnectionsLeft()

    async def test_client_that_never_reads(self) -> None:
        """Requests sent on and on, answers never read: the server lets go of it."""
        client = await threads.deferToThread(send_until_refused, self.port.getHost().port)
        try:
            await self.assertNoConnectionsLeft(seconds=10)
            with self.assertRaises(ConnectionResetError):
                while client.recv(1 << 20):
                    pass
        finally:
            client.close()
        await self.assertServesNormally()

    async def test_reset_in_the_middle_of_a_body(self) -> None:
        for _ in range(20):
            client = await self.connect(
                RecordingClient(
                    b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: message/coffeepot\r\n"
                    b"Content-Length: 500\r\n\r\nsta"
                )
            )
            await task.deferLater(reactor, 0.01, lambda: None)
            client.transport.abortConnection()
            await client.closed
        await self.assertNoConnectionsLeft()
        self.assertEqual(self.server.pots[0].state.value, "idle")
        await self.assertServesNormally()

    async def test_tls_hello_on_plain_port(self) -> None:
        hello = bytes.fromhex("160301020001000200fc0303") + bytes(range(256)) * 2
        answer = await self.exchange(hello)
        self.assertTrue(answer.startswith(b"HTCPCP/1.1 400 "), answer[:60])
        await self.assertServesNormally()

    async def test_bad_bytes_in_every_field(self) -> None:
        base = [b"BREW", b"/pot-0", b"HTCPCP/1.1", b"Accept-Additions", b"Cream", b"start"]
        for field in range(len(base)):
            for bad in (b"\x00", b"\xff\xfe", b"\xc3\x28", b"caf\xc3\xe8"):
                parts = list(base)
                parts[field] = parts[field][:2] + bad + parts[field][2:]
                method, target, version, name, value, body = parts
                request = (
                    b"%s %s %s\r\nContent-Type: message/coffeepot\r\n%s: %s\r\n"
                    b"Content-Length: %d\r\n\r\n%s"
                    % (method, target, version, name, value, len(body), body)
                )
                answer = await self.exchange(request)
                status = int(answer.split(b" ", 2)[1])
                self.assertTrue(
                    400 <= status < 500 or status in (501, 505), (field, bad, answer[:80])
                )
                self.assertNotIn(b"Traceback", answer)
        await self.assertNoConnectionsLeft()
        await self.assertServesNormally()
