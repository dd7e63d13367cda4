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
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, cast

from klein import Response
from twisted.web.http import Request
from twisted.web.iweb import IRequest

__all__ = ["html_response", "json_response", "redirect", "set_cookie"]

_HeaderValues = str | bytes | Sequence[str | bytes]
_PLAIN: Final = re.compile(rb"[!#-+\--:<-\[\]-~]*")
"""Bytes a cookie name or value may hold as they are (RFC 6265 cookie-octets)."""


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

    The attributes are made by twisted.web's own L{Request.addCookie} (which
    also takes the C{httpOnly} and C{sameSite} L{IRequest} leaves out), once
    per path, lifetime and scheme: a first visit's session cookie differs from
    the next one's only in its value.
    """
    secure = request.isSecure()
    if _PLAIN.fullmatch(name) and _PLAIN.fullmatch(value):
        attributes = _cookie_attributes(path, max_age, secure)
        cast(Request, request).cookies.append(name + b"=" + value + attributes)
        return
    _add_cookie(cast(Request, request), name, value, path, max_age, secure)


@lru_cache(maxsize=64)
def _cookie_attributes(path: str, max_age: int, secure: bool) -> bytes:
    """What follows a cookie's value, as L{Request.addCookie} writes it."""
    made = _Cookies()
    _add_cookie(cast(Request, made), b"n", b"v", path, max_age, secure)
    return made.cookies[0][len(b"n=v") :]


def _add_cookie(
    request: Request, name: bytes, value: bytes, path: str, max_age: int, secure: bool
) -> None:
    Request.addCookie(
        request,
        name,
        value,
        path=path,
        max_age=str(max_age),
        secure=secure,
        httpOnly=True,
        sameSite="lax",
    )


class _Cookies:
    """Where L{Request.addCookie} puts the cookie it makes."""

    def __init__(self) -> None:
        self.cookies: list[bytes] = []


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
