# -*- test-case-name: tests.test_web_routes -*-
"""
The lab's diagnostic requests: deliberately bad HTCPCP, to see the pot refuse it.

The lab's web app had C{/test-400}, C{/test-404}, C{/test-415} and
C{/test-501}; each sends one malformed request on a fresh connection and
shows the pot's answer.  None of them can change a pot: the server refuses
each before it touches one.  L{diagnose} sends one, for the page and the
JSON API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from werkzeug.exceptions import NotFound

from htcpcp.message import Response
from htcpcp.web.pots.gateway import PotGateway

__all__ = ["DIAGNOSTICS", "Diagnostic", "diagnose"]


@dataclass(frozen=True)
class Diagnostic:
    """One deliberately bad request and the answer it should get."""

    code: str
    title: str
    explanation: str
    request: bytes


DIAGNOSTICS: Final = {
    d.code: d
    for d in (
        Diagnostic(
            "400",
            "An unknown URL scheme",
            "caffeine:// is not one of the coffee schemes of RFC 2324, so the request is"
            " malformed: 400 Bad Request.",
            b"GET caffeine://ducky HTTP/1.1\r\nHost: ducky\r\n\r\n",
        ),
        Diagnostic(
            "404",
            "A host the pot server does not answer to",
            "coffee://psyduck names a pot server that is not this one: 404 Not Found.",
            b"GET coffee://psyduck HTTP/1.1\r\nHost: psyduck\r\n\r\n",
        ),
        Diagnostic(
            "415",
            "A request with the wrong media type",
            "HTCPCP's media types are message/coffeepot, application/coffee-pot-command"
            " and message/teapot; application/tea-pot-command is none of them, on any"
            " method: 415 Unsupported Media Type.",
            b"GET coffee://ducky HTTP/1.1\r\nHost: ducky\r\n"
            b"Content-Type: application/tea-pot-command\r\n\r\n",
        ),
        Diagnostic(
            "501",
            "A method HTCPCP does not have",
            "MILK is not an HTCPCP method (milk is an addition, and WHEN stops it):"
            " 501 Not Implemented.",
            b"MILK coffee://ducky HTTP/1.1\r\nHost: ducky\r\n\r\n",
        ),
    )
}
"""The diagnostics by the status code they should provoke."""


async def diagnose(gateway: PotGateway, code: str) -> tuple[Diagnostic, Response]:
    """
    Send the diagnostic C{code}'s request; it and the pot's answer.

    @raise NotFound: when there is no such diagnostic (the route answers 404).
    """
    diagnostic = DIAGNOSTICS.get(code)
    if diagnostic is None:
        raise NotFound()
    return diagnostic, await gateway.send_raw(diagnostic.request)
