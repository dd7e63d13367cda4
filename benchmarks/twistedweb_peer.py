"""The plain twisted.web peer of the benchmark harness.

What a Twisted user might write instead of a pot server: a leaf ``twisted.web`` resource with
``render_GET`` and ``render_BREW`` that answers with bytes held in memory: the pot server's own GET
body (``--body``, JSON), or the web front end's home page (``--body home.html --content-type
'text/html; charset=utf-8'``). Access logging is off, so twisted.web is measured at its fastest.
twisted.web only accepts ``HTTP/1.x`` request lines, so the harness sends the same ``HTTP/1.1``
requests to every server.

Usage: ``python benchmarks/twistedweb_peer.py --port PORT [--body FILE] [--content-type TYPE]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Request, Site


class CannedResource(Resource):
    """Answer GET and BREW on any path with a fixed body."""

    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes) -> None:
        super().__init__()
        self._body = body
        self._content_type = content_type

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"Content-Type", self._content_type)
        return self._body

    def render_BREW(self, request: Request) -> bytes:
        request.content.read()
        return self.render_GET(request)


class QuietSite(Site):
    """A ``Site`` without an access log."""

    def log(self, request: Request) -> None:
        """Write no access log line."""


def main() -> None:
    """Listen on 127.0.0.1 and run the reactor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, help="answer with this file's bytes (default: {})")
    parser.add_argument("--content-type", default="application/json")
    args = parser.parse_args()
    body = args.body.read_bytes() if args.body else b"{}"
    site = QuietSite(CannedResource(body, args.content_type.encode("ascii")))
    site.displayTracebacks = False
    reactor.listenTCP(args.port, site, backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
