# -*- test-case-name: tests.test_web_cache -*-
"""
Pages flattened to bytes, and kept so that a page is flattened once per state.

L{page_response} answers with a page made for one view only (an error, the
inspector); the pages most looked at go through a L{PageCache}.

Flattening a page with L{twisted.web.template} costs milliseconds, while
the pages people look at most (the home page above all) change only when
the pots do.  A L{PageCache} keeps the bytes of a page under everything it
is made from: the page's own key (the pots' status, the notice, ...) and
the L{PageContext} (mount point, the page's address, theme, whether there
is a session).

The parts of a page that differ from view to view are the CSRF token in
its forms (the session's) and the forms' nonce (the view's).  A cached page
is never made with either: it is flattened with placeholders, random and
made with the cache so that no content can hold them, and kept cut at
them; each view joins the pieces with its own token and nonce.  A page kept
for one session therefore never carries its token to another.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Final

from klein import Response
from twisted.python.failure import Failure
from twisted.web.template import Flattenable, Tag, flatten

from htcpcp.cache import RecentCache
from htcpcp.web.http.responses import html_response
from htcpcp.web.pages.layout import PageContext, page

__all__ = ["DOCTYPE", "PageCache", "flatten_page", "page_response"]

DOCTYPE: Final = b"<!DOCTYPE html>\n"
"""What L{twisted.web.template.renderElement} writes before a page."""


def flatten_page(tag: Tag) -> bytes:
    """A whole page, doctype first, as bytes (the page holds nothing asynchronous)."""
    chunks = [DOCTYPE]
    outcome: list[object] = []
    flatten(None, tag, chunks.append).addBoth(outcome.append)
    if not outcome:
        raise RuntimeError("a page cannot wait for anything")
    if isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return b"".join(chunks)


def page_response(
    context: PageContext,
    title: str,
    content: Iterable[Flattenable],
    *,
    status: int = 200,
    current: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The page C{title} around C{content}, flattened for this view alone."""
    body = flatten_page(page(context, title, content, current=current))
    return html_response(body, status, headers)


class PageCache:
    """
    The bytes of recently made pages, at most C{limit}, least recently used going first.

    @param limit: how many pages are kept.
    """

    def __init__(self, limit: int = 32) -> None:
        self._token = secrets.token_hex(32)
        self._nonce = secrets.token_hex(16)
        self._markers = re.compile(b"(%s|%s)" % (self._token.encode(), self._nonce.encode()))
        self._pages: RecentCache[Hashable, list[bytes]] = RecentCache(limit)

    def __len__(self) -> int:
        return len(self._pages)

    def page(
        self, context: PageContext, key: Hashable, make: Callable[[PageContext], Tag]
    ) -> bytes:
        """
        The page C{make} makes for C{context}, with C{context}'s CSRF token and nonce.

        @param key: everything else the page is made from: equal keys (and
            contexts but for their tokens and nonces) must make the same page.
        @param make: makes the page for a context, which may differ from
            C{context} in its token and nonce only.
        """
        token = context.token
        shared = context._replace(
            token=None if token is None else self._token,
            nonce=None if context.nonce is None else self._nonce,
        )
        whole = (shared, key)
        pieces = self._pages.get(whole)
        if pieces is None:
            pieces = self._markers.split(flatten_page(make(shared)))
        self._pages.put(whole, pieces)
        if len(pieces) == 1:
            return pieces[0]
        own = {
            self._token.encode(): (token or "").encode("ascii"),
            self._nonce.encode(): (context.nonce or "").encode("ascii"),
        }
        joined = pieces.copy()
        joined[1::2] = [own[marker] for marker in pieces[1::2]]  # the markers, cut at
        return b"".join(joined)
