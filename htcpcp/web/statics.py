# -*- test-case-name: tests.test_web_http -*-
"""
The front end's static assets: stylesheet, script, images, favicon, robots.txt.

L{StaticFiles} is Twisted's L{File} (ranges, C{Last-Modified} and its 304)
plus what it lacks: a strong C{ETag} answered with 304 on
C{If-None-Match}, a C{Cache-Control} lifetime, text types with their
charset, and no directory listings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.static import File

__all__ = ["STATIC_DIRECTORY", "StaticFiles"]

STATIC_DIRECTORY: Final = Path(__file__).parent / "static"
CACHE_CONTROL: Final = b"public, max-age=600"
CONTENT_TYPES: Final = {
    **File.contentTypes,
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".png": "image/png",
}


class StaticFiles(File):
    """A directory (or file) of assets served with validators and a lifetime."""

    contentTypes = CONTENT_TYPES

    def __init__(self, path: str | Path = STATIC_DIRECTORY, *args: Any, **kwargs: Any) -> None:
        super().__init__(str(path), *args, **kwargs)

    def directoryListing(self) -> IResource:
        """Directories are not listed."""
        return self.childNotFound  # type: ignore[no-any-return]

    def render_GET(self, request: IRequest) -> bytes | int:
        self.restat(False)
        if self.isfile():
            modified = int(self.getModificationTime() * 1_000_000)
            tag = f'"{modified:x}-{self.getsize():x}"'.encode("ascii")
            request.setHeader(b"Cache-Control", CACHE_CONTROL)
            if request.setETag(tag) is http.CACHED:
                return b""
        return super().render_GET(request)  # type: ignore[no-any-return]

    render_HEAD = render_GET
