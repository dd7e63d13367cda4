# -*- test-case-name: tests.test_tls_resumption -*-
"""
TLS session resumption on the servers' contexts: a returning client's
handshake resumes its session from a ticket instead of a full handshake.

Real loopback TLS servers (the pot server's and the web front end's hardened
options, L{htcpcp.tls.server_options}); the client is Python's C{ssl}, run in
a thread while the reactor serves, offering the first connection's session on
the second.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from twisted.internet import reactor, threads
from twisted.internet.protocol import Factory, Protocol
from twisted.trial import unittest

from htcpcp.tls import self_signed_pem, server_options


class _Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def _client_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client context speaking only ``version`` (certificates are not the point here)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = context.maximum_version = version
    return context


def _exchange(
    port: int, context: ssl.SSLContext, session: ssl.SSLSession | None
) -> tuple[ssl.SSLSession, bool]:
    """One TLS connection: send a line, read it back; the session and whether it was resumed."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, session=session) as tls:
        tls.sendall(b"ping\n")
        echoed = b""
        while len(echoed) < 5:
            chunk = tls.recv(64)
            if not chunk:
                break
            echoed += chunk
        assert echoed == b"ping\n", echoed
        assert tls.session is not None
        return tls.session, tls.session_reused


class ResumptionTests(unittest.TestCase):
    def _listen(self) -> int:
        pem = Path(self.mktemp())
        pem.write_bytes(self_signed_pem(["localhost"], ["127.0.0.1"])[0])
        factory = Factory.forProtocol(_Echo)
        port = reactor.listenSSL(0, factory, server_options(str(pem)), interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)

    async def _returning_client(self, version: ssl.TLSVersion) -> list[bool]:
        port, context = self._listen(), _client_context(version)
        session, first = await threads.deferToThread(_exchange, port, context, None)
        _, second = await threads.deferToThread(_exchange, port, context, session)
        _, fresh = await threads.deferToThread(_exchange, port, context, None)
        return [first, second, fresh]

    async def test_a_returning_tls13_client_resumes_its_session(self) -> None:
        self.assertEqual(await self._returning_client(ssl.TLSVersion.TLSv1_3), [False, True, False])

    async def test_a_returning_tls12_client_resumes_its_session(self) -> None:
        self.assertEqual(await self._returning_client(ssl.TLSVersion.TLSv1_2), [False, True, False])
