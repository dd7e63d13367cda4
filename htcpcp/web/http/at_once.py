# -*- test-case-name: tests.test_web_cache -*-
"""
Pages answered at once, without Klein's routing and Deferreds.

The home page is what most visits ask for, and when the front end has a
recent snapshot of the pots it needs nothing that could wait: the page
comes from the L{htcpcp.web.pages.rendering.PageCache}, the session and CSRF
token are made or found in memory.  For that request only, the
application gives L{htcpcp.web.http.security.WebRoot} the page's bytes
directly (L{applied}), so twisted.web writes it whole with its length; any
other request, or the home page without a recent snapshot, goes through
Klein as before.  The answer is the one Klein's route would give: same
status, headers and body.
"""

from __future__ import annotations

from collections.abc import Callable

from klein import Response
from twisted.web.iweb import IRequest

__all__ = ["AtOnce", "applied", "is_home"]

AtOnce = Callable[[IRequest], bytes | None]
"""Answers a request at once (its body, the status and headers set), or C{None}."""


def is_home(request: IRequest) -> bool:
    """Whether C{request} is a GET of the mount point's C{/} (whatever its query)."""
    return request.method == b"GET" and request.postpath == [b""]


def applied(response: Response, request: IRequest) -> bytes:
    """
    Set C{response}'s status and headers on C{request}; its body (bytes),
    as Klein would when given the L{Response}.
    """
    request.setResponseCode(response.code)
    headers = request.responseHeaders
    for name, value in response.headers.items():
        headers.setRawHeaders(name, [value] if isinstance(value, str | bytes) else value)
    body: bytes = response.body
    return body
