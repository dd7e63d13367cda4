# -*- test-case-name: tests.test_web_routes -*-
"""
Where the front end is mounted, so that every link, form, asset and event
stream is relative to it.

The front end may be the root of its own L{Site} or a child of another
application's resource tree (C{/coffee/}).  L{Mount.of} reads the request's
C{prepath} and C{postpath} before Klein routes it: C{up} is the relative
path from the page being served back to the mount point (C{./} or
C{../../}), so C{mount.url("history")} works at any depth and behind a
proxy that strips a prefix.  L{htcpcp.web.http.security.WebRoot} records
it on the request, where L{request_mount} finds it.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple, cast
from urllib.parse import quote

from twisted.python.components import Componentized
from twisted.web.iweb import IRequest
from zope.interface import Interface

from htcpcp.cache import BoundedCache

__all__ = ["IMount", "Mount", "request_mount", "safe_next"]

_SAFE_NEXT: Final = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%?/-]{0,256}\Z")


class IMount(Interface):
    """Marker interface under which a request carries its L{Mount}."""


MAX_REMEMBERED_URI: Final = 256


class Mount(NamedTuple):
    """
    A request's place relative to the front end's mount point.

    @ivar up: relative path from the current page to the mount point.
    @ivar path: absolute path of the mount point, ending in C{/}.
    @ivar here: the current page relative to the mount point, query included.
    """

    up: str = "./"
    path: str = "/"
    here: str = ""

    @classmethod
    def of(cls, request: IRequest) -> Mount:
        """The mount of C{request}, read before anything routes it further."""
        key = (tuple(request.prepath), len(request.postpath), request.uri)
        mount = _MOUNTS.get(key)
        if mount is None:
            prepath = [segment.decode("utf-8", "replace") for segment in request.prepath]
            raw_path, _, query = request.uri.decode("latin-1").partition("?")
            segments = raw_path.split("/")[1:]
            here = "/".join(segments[len(prepath) :])
            mount = cls(
                up="../" * max(0, len(request.postpath) - 1) or "./",
                path="/" + "".join(quote(segment) + "/" for segment in prepath),
                here=here + ("?" + query if query else ""),
            )
            if len(request.uri) <= MAX_REMEMBERED_URI:
                _MOUNTS.remember(key, mount)
        return mount

    def url(self, relative: str = "") -> str:
        """C{relative} (a path below the mount point) as seen from this page."""
        return self.up + relative


def request_mount(request: IRequest) -> Mount:
    """The L{Mount} recorded on C{request} (the root's when none was)."""
    found = cast(Componentized, request).getComponent(IMount)
    return found if isinstance(found, Mount) else Mount()


def safe_next(value: str) -> str:
    """
    C{value} if it is a harmless path below the mount point, else C{""}.

    Used for the page to return to after a form: no scheme, no host, no
    absolute path, no C{..}, nothing a browser could read as another site.
    """
    if not _SAFE_NEXT.match(value) or value.startswith("/") or "//" in value:
        return ""
    path = value.partition("?")[0]
    if any(segment in (".", "..") for segment in path.split("/")) or ":" in path:
        return ""
    return value


_MOUNTS: Final = BoundedCache[tuple[tuple[bytes, ...], int, bytes], Mount](256)
"""Mounts already worked out, by prepath, postpath length and URI: pages are asked for again."""
