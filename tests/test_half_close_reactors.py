# -*- test-case-name: tests.test_half_close_reactors -*-
"""
The assumption behind the server's half-close fast path, checked on every reactor it may run on.

L{htcpcp.protocol.PotServerProtocol} stops being half-closeable once it has
answered everything and the reactor no longer lists its transport among its
writers (L{IReactorFDSet.getWriters}).  That is right only if a TCP
transport holding bytes it has not sent is always among the writers, and
leaves them once its bytes are out.  Each test runs a small program under
one reactor (as C{twistd --reactor} would choose it): a loopback server
writes more than the socket buffers hold (32 MiB) to a client that does not read yet,
then the client reads it all.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from twisted.trial.unittest import TestCase

PROGRAM = textwrap.dedent(
    """
    import socket, sys
    from twisted.application.reactors import installReactor
    reactor = installReactor(sys.argv[1])
    from twisted.internet.protocol import Factory, Protocol

    ANSWER = b"x" * (32 * 1024 * 1024)
    seen = []

    class Writer(Protocol):
        def connectionMade(self):
            self.transport.write(ANSWER)
            reactor.callLater(0.2, self.full)

        def full(self):
            seen.append(self.transport in reactor.getWriters())
            self.read(0)

        def read(self, got):
            try:
                while True:
                    got += len(client.recv(1 << 20))
            except BlockingIOError:
                pass
            if got < len(ANSWER):
                reactor.callLater(0.001, self.read, got)
            else:
                reactor.callLater(0.2, self.drained)

        def drained(self):
            seen.append(self.transport in reactor.getWriters())
            reactor.stop()

    port = reactor.listenTCP(0, Factory.forProtocol(Writer), interface="127.0.0.1")
    client = socket.create_connection(("127.0.0.1", port.getHost().port))
    client.setblocking(False)
    reactor.callLater(10, reactor.stop)
    reactor.run()
    print(seen)
    """
)


class WritersTests(TestCase):
    """A transport with unsent bytes is a writer, and stops being one once they are sent."""

    def check(self, reactor: str) -> None:
        done = subprocess.run(
            [sys.executable, "-c", PROGRAM, reactor],
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "[True, False]", done.stderr)

    def test_epoll(self) -> None:
        self.check("epoll")

    def test_poll(self) -> None:
        self.check("poll")

    def test_select(self) -> None:
        self.check("select")

    def test_asyncio(self) -> None:
        self.check("asyncio")
