"""The ceiling server of the benchmark harness.

A Twisted ``LineReceiver`` that answers every request with one canned HTCPCP response and does
no other work: it reads lines until the blank line that ends a request head, skips a body announced
by ``Content-Length`` (so BREW requests stay framed), and writes the same bytes every time. A pot
server built on ``LineReceiver`` can approach its throughput but not pass it. The harness gives it
the pot server's own GET body (``--body``), so both put the same bytes on the wire.

With ``--tls PEM`` (a key and certificate, such as the pot server's generated ``server.pem``) it
listens behind the same TLS context the pot server makes (``htcpcp.tls.server_options``: its
versions, ciphers and session tickets), so it is the ceiling of the pot server over TLS.

Usage: ``python benchmarks/ceiling.py --port PORT [--body FILE] [--tls PEM]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.protocol import Factory
from twisted.protocols.basic import LineReceiver

LENGTH_PREFIXES = (b"Content-Length:", b"content-length:")


def canned_response(body: bytes) -> bytes:
    """The whole response the ceiling sends, head and body."""
    return (
        b"HTCPCP/1.1 200 OK\r\n"
        b"Server: ceiling\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: %d\r\n"
        b"\r\n%s" % (len(body), body)
    )


class CannedResponder(LineReceiver):
    """Answer each request head with the factory's response; discard request bodies."""

    factory: CannedFactory
    _body_left = 0

    def lineReceived(self, line: bytes) -> None:
        if not line:
            self.transport.write(self.factory.response)
            if self._body_left:
                self.setRawMode()
        elif line.startswith(LENGTH_PREFIXES):
            self._body_left = int(line[15:])

    def rawDataReceived(self, data: bytes) -> None:
        taken = min(self._body_left, len(data))
        self._body_left -= taken
        if not self._body_left:
            self.setLineMode(data[taken:])


class CannedFactory(Factory):
    """Builds ``CannedResponder``s that all send ``response``."""

    protocol = CannedResponder

    def __init__(self, response: bytes) -> None:
        self.response = response


def main() -> None:
    """Listen on 127.0.0.1 and run the reactor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, help="answer with this file's bytes (default: {})")
    parser.add_argument(
        "--tls", type=Path, help="listen over TLS with this PEM key and certificate"
    )
    args = parser.parse_args()
    body = args.body.read_bytes() if args.body else b"{}"
    factory = CannedFactory(canned_response(body))
    if args.tls is None:
        reactor.listenTCP(args.port, factory, backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from htcpcp.tls import server_options

        options = server_options(str(args.tls))
        reactor.listenSSL(  # type: ignore[attr-defined]
            args.port, factory, options, backlog=1024, interface="127.0.0.1"
        )
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
