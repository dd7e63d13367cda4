# -*- test-case-name: tests.test_web_http -*-
"""
The L{Site} the front end is served by when it has a port of its own.

Built here rather than with Klein's C{app.run}, which shows tracebacks to
clients: tracebacks stay in the log, idle connections time out, and a
request body larger than the biggest form could be is refused with 413
before it is read (twisted.web itself sets no limit).

The access log has a line for each request answered with an error (4xx or
5xx) only: formatting and writing a line for every page view cost as much
CPU as serving a cached page.
"""

from __future__ import annotations

from typing import Final

from twisted.web import http
from twisted.web.resource import IResource
from twisted.web.server import Request, Site

__all__ = ["MAX_BODY", "ErrorLoggingSite", "LimitedRequest", "make_site"]

MAX_BODY: Final = 64 * 1024
FIRST_ERROR: Final = 400
IDLE_TIMEOUT: Final = 60.0
TOO_LARGE: Final = (
    b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 26\r\n\r\nThe request is too large.\n"
)


class LimitedRequest(Request):
    """A request whose body may not exceed L{MAX_BODY} bytes."""

    _received = 0
    _refused = False
    _secure: bool | None = None

    def isSecure(self) -> bool:
        """
        Whether the request came over TLS, asked of the channel only once.

        The channel asks zope for its transport's interface on every call,
        and twisted.web, Klein and the front end ask several times a request.
        """
        if self._secure is None:
            self._secure = bool(super().isSecure())
        return self._secure

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > MAX_BODY:
            self._refuse()
            length = 0
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        self._received += len(data)
        if self._received > MAX_BODY:
            self._refuse()
            return
        super().handleContentChunk(data)

    def process(self) -> None:
        if not self._refused:
            super().process()

    def _refuse(self) -> None:
        self._refused = True
        transport = self.channel.transport
        assert transport is not None, "a body arrives only while connected"
        transport.write(TOO_LARGE)
        transport.loseConnection()


class ErrorLoggingSite(Site):
    """A L{Site} whose access log has the requests answered with an error only."""

    def log(self, request: http.Request) -> None:
        if request.code >= FIRST_ERROR:
            super().log(request)


def make_site(resource: IResource, *, timeout: float = IDLE_TIMEOUT) -> Site:
    """A L{Site} serving C{resource} safely."""
    site = ErrorLoggingSite(resource, timeout=timeout)
    site.requestFactory = LimitedRequest
    site.displayTracebacks = False
    return site
