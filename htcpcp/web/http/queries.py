# -*- test-case-name: tests.test_web_routes -*-
"""
A page's query parameters, read with limits.

A parameter that cannot be used raises L{BadQuery}, which both Klein
applications answer with a 400 saying which (L{htcpcp.web.pots.failures}).
"""

from __future__ import annotations

from typing import Final

from twisted.web.iweb import IRequest

__all__ = ["MAX_TEXT", "BadQuery", "query_page", "query_text"]

MAX_TEXT: Final = 40
MAX_PAGE: Final = 1_000_000


class BadQuery(Exception):
    """A query parameter that cannot be used; the message says which."""


def query_text(request: IRequest, name: bytes, limit: int = MAX_TEXT) -> str:
    """The first value of C{name}, or C{""}; undecodable bytes replaced."""
    raw = request.args.get(name, [b""])[0]
    text: str = raw.decode("utf-8", "replace")
    if len(text) > limit:
        raise BadQuery(f"{name.decode()} is longer than {limit} characters")
    return text


def query_page(request: IRequest) -> int:
    """The page number asked for (C{page}, from 1), 1 when none is."""
    text = query_text(request, b"page") or "1"
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise BadQuery("page is a whole number from 1")
    return int(text)
