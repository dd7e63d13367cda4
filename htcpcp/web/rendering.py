# -*- test-case-name: tests.test_web_cache -*-
"""
Pages flattened to bytes, and kept so that a page is flattened once per state.

Flattening a page with L{twisted.web.template} costs milliseconds, while
the pages people look at most (the home page above all) change only when
the pots do.  A L{PageCache} keeps the bytes of a page under everything it
is made from: the page's own key (the pots' status, the notice, ...) and
the L{PageContext} (mount point, the page's address, theme, whether there
is a session).

The one part of a page that differs from browser to browser is the CSRF
token in its forms (the session's identifier).  A cached page is never made
with a real token: it is flattened with a placeholder, random and made with
the cache so that no content can hold it, and kept cut at the placeholder;
each view joins the pieces with its own session's token.  A page kept for
one session therefore never carries its token to another.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Final

from twisted.python.failure import Failure
from twisted.web.template import Tag, flatten

from htcpcp.web.layout import PageContext

__all__ = ["DOCTYPE", "PageCache", "flatten_page"]

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


class PageCache:
    """
    The bytes of recently made pages, at most C{limit}, least recently used going first.

    @param limit: how many pages are kept.
    """

    def __init__(self, limit: int = 32) -> None:
        self._limit = limit
        self._placeholder = secrets.token_hex(32)
        self._marker = self._placeholder.encode("ascii")
        self._pages: OrderedDict[Hashable, list[bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pages)

    def page(
        self, context: PageContext, key: Hashable, make: Callable[[PageContext], Tag]
    ) -> bytes:
        """
        The page C{make} makes for C{context}, with C{context}'s CSRF token.

        @param key: everything else the page is made from: equal keys (and
            contexts but for their tokens) must make the same page.
        @param make: makes the page for a context, which may differ from
            C{context} in its token only.
        """
        token = context.token
        shared = PageContext(
            context.mount, None if token is None else self._placeholder, context.theme
        )
        whole = (shared, key)
        around = self._pages.pop(whole, None)
        if around is None:
            around = flatten_page(make(shared)).split(self._marker)
        self._pages[whole] = around
        if len(self._pages) > self._limit:
            self._pages.popitem(last=False)
        return around[0] if token is None else token.encode("ascii").join(around)
