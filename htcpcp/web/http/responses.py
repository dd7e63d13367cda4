# -*- test-case-name: tests.test_web_routes -*-
"""
The front end's responses, each kind made one way.

JSON and HTML bodies are answered with their charset and never stored by a
cache (C{Cache-Control: no-store}: they show a pot's state of the moment);
every form ends in a 303 (POST-redirect-GET); and every cookie the front
end sets is C{HttpOnly}, C{SameSite=Lax}, C{Secure} under TLS and scoped to
the mount point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from klein import Response
from twisted.web.http import Request
from twisted.web.iweb import IRequest

__all__ = ["html_response", "json_response", "redirect", "set_cookie"]

_HeaderValues = str | bytes | Sequence[str | bytes]


def json_response(
    document: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """C{document} as JSON."""
    body = json.dumps(document).encode("utf-8")
    return _no_store("application/json; charset=utf-8", body, status, headers)


def html_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A page already flattened to C{body}."""
    return _no_store("text/html; charset=utf-8", body, status, headers)


def redirect(location: str) -> Response:
    """See Other: where a form's answer is to be read, with a GET."""
    return Response(code=303, headers={"Location": location}, body=b"")


def set_cookie(request: IRequest, name: bytes, value: bytes, *, path: str, max_age: int) -> None:
    """
    Set the cookie C{name} for C{max_age} seconds (0 forgets it) below C{path}.

    Twisted's L{IRequest} declares C{addCookie} without the C{httpOnly} and
    C{sameSite} that every request it makes takes (L{Request.addCookie}).
    """
    cast(Request, request).addCookie(
        name,
        value,
        path=path,
        max_age=str(max_age),
        secure=request.isSecure(),
        httpOnly=True,
        sameSite="lax",
    )


def _no_store(
    content_type: str, body: bytes, status: int, headers: Mapping[str, str] | None
) -> Response:
    """A response that no cache keeps, with C{headers} after (or instead of) its own."""
    merged: dict[str | bytes, _HeaderValues] = {
        "Content-Type": content_type,
        "Cache-Control": "no-store",
    }
    for name, value in (headers or {}).items():
        merged[name] = value
    return Response(code=status, headers=merged, body=body)
