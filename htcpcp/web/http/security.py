# -*- test-case-name: tests.test_web_http -*-
"""
The front end's outermost resource: security headers, the mount point, and
which responses are gzipped.

L{WebRoot} is what a L{Site} serves or another application mounts.  It is a
leaf: it records the request's L{Mount} before Klein rewrites C{prepath},
adds the headers every response carries (a strict Content-Security-Policy,
C{nosniff}, a referrer policy, HSTS under TLS, a C{Server} without
versions in place of twisted.web's), redirects the bare mount
point (C{/coffee}) to C{/coffee/} so relative links resolve, and hands the
request to the Klein application (or answers it at once, for the pages
L{htcpcp.web.http.at_once} can).

Twisted asks only the resource a L{Site} found for an encoder, so gzip is
decided here, per request: text is compressed; the event stream (which
must reach the browser event by event) and images are not.
"""

from __future__ import annotations

from typing import Final, cast
from urllib.parse import quote

from twisted.python.components import Componentized
from twisted.web.http import MOVED_PERMANENTLY
from twisted.web.iweb import IRequest, _IRequestEncoder
from twisted.web.resource import EncodingResourceWrapper, IResource
from twisted.web.server import GzipEncoderFactory

from htcpcp.web.http.at_once import AtOnce
from htcpcp.web.http.mount import IMount, Mount

__all__ = ["CONTENT_SECURITY_POLICY", "WebRoot"]

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: Final = (
    (b"Content-Security-Policy", (CONTENT_SECURITY_POLICY.encode("ascii"),)),
    (b"X-Content-Type-Options", (b"nosniff",)),
    (b"Referrer-Policy", (b"same-origin",)),
    (b"X-Frame-Options", (b"DENY",)),
    (b"Cross-Origin-Opener-Policy", (b"same-origin",)),
    (b"Server", (b"htcpcp-web",)),
)
"""Headers on every response; C{Server} names the product, never a version."""
HSTS: Final = (b"max-age=31536000",)
VARY: Final = (b"Accept-Encoding",)
UNCOMPRESSED: Final = (".png", ".ico", ".jpg", ".gif", ".webp")
STREAMS: Final = frozenset({"events"})


class _Gzip(GzipEncoderFactory):
    """Gzip at a level that costs little CPU for most of the gain."""

    compressLevel = 6


class WebRoot(EncodingResourceWrapper):
    """
    Wraps the Klein application's resource with the front end's HTTP policy.

    @param application: the Klein resource to serve.
    @param at_once: answers the requests it can at once, without Klein
        (see L{htcpcp.web.http.at_once}).
    """

    isLeaf = True

    def __init__(self, application: IResource, at_once: AtOnce | None = None) -> None:
        super().__init__(application, [_Gzip()])
        self._at_once = at_once

    def getEncoder(self, request: IRequest) -> _IRequestEncoder | None:
        """Gzip text when the client accepts it; never the event stream."""
        if not _compressible(request.postpath):
            return None
        request.responseHeaders.setRawHeaders(b"Vary", VARY)
        return super().getEncoder(request)

    def render(self, request: IRequest) -> bytes | int:
        headers = request.responseHeaders
        for name, value in HEADERS:
            headers.setRawHeaders(name, value)
        if request.isSecure():
            headers.setRawHeaders(b"Strict-Transport-Security", HSTS)
        if not request.postpath and request.prepath:
            return _to_mount_point(request)
        cast(Componentized, request).setComponent(IMount, Mount.of(request))
        answer = None if self._at_once is None else self._at_once(request)
        if answer is not None:
            return answer
        return self.original.render(request)


def _to_mount_point(request: IRequest) -> bytes:
    """Redirect C{/coffee} to C{/coffee/}, where relative links resolve."""
    last = quote(request.prepath[-1].decode("utf-8", "replace"))
    query = request.uri.partition(b"?")[2]
    location = last + "/" + ("?" + query.decode("latin-1") if query else "")
    request.setResponseCode(MOVED_PERMANENTLY)
    request.setHeader(b"Location", location.encode("utf-8"))
    request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
    return b"Moved to " + location.encode("utf-8") + b"\n"


def _compressible(postpath: list[bytes]) -> bool:
    first = postpath[0].decode("latin-1") if postpath else ""
    last = postpath[-1].decode("latin-1").lower() if postpath else ""
    return first not in STREAMS and not last.endswith(UNCOMPRESSED)
