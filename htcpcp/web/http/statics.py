# -*- test-case-name: tests.test_web_http -*-
"""
The front end's static assets: stylesheet, script, images, favicon, robots.txt.

Pages link each asset by a content-hashed name (C{static/style.3f2a9c1e04b7.css},
L{asset_url}), served with C{Cache-Control: public, max-age=31536000,
immutable}: a browser fetches it once, and a new version of the file has a
new name.  The plain names still answer, with a short lifetime.

L{StaticFiles} is Twisted's L{File} (ranges, C{Last-Modified} and its 304)
plus what it lacks: a strong C{ETag} (its own for the gzipped variant)
answered with 304 on C{If-None-Match}, a C{Cache-Control} lifetime, text
types with their charset, no directory listings, and a 404 for names no
file can have (a NUL, an empty segment).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Final

from twisted.web import http
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.static import File

__all__ = ["STATIC_DIRECTORY", "StaticFiles", "asset_url"]

STATIC_DIRECTORY: Final = Path(__file__).parent.parent / "static"
CACHE_CONTROL: Final = b"public, max-age=600"
IMMUTABLE: Final = b"public, max-age=31536000, immutable"
HASHED: Final = ("app.js", "style.css", "cup.svg", "favicon.svg")
CONTENT_TYPES: Final = {
    **File.contentTypes,
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".png": "image/png",
}


def _hashed(name: str) -> str:
    """C{style.css} as C{style.<the first 12 hex digits of its SHA-256>.css}."""
    digest = hashlib.sha256((STATIC_DIRECTORY / name).read_bytes()).hexdigest()[:12]
    stem, _, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}"


HASHED_NAMES: Final = {name: _hashed(name) for name in HASHED}
ORIGINALS: Final = {hashed.encode("ascii"): name for name, hashed in HASHED_NAMES.items()}


def asset_url(name: str) -> str:
    """The path, below the mount point, that a page links the asset C{name} by."""
    return "static/" + HASHED_NAMES.get(name, name)


class StaticFiles(File):
    """
    A directory (or file) of assets served with validators and a lifetime.

    @param lifetime: the C{Cache-Control} value of the files served.
    """

    contentTypes = CONTENT_TYPES

    def __init__(
        self,
        path: str | Path = STATIC_DIRECTORY,
        *args: Any,
        lifetime: bytes = CACHE_CONTROL,
        **kwargs: Any,
    ) -> None:
        super().__init__(str(path), *args, **kwargs)
        self.lifetime = lifetime

    def directoryListing(self) -> IResource:
        """Directories are not listed."""
        return self.childNotFound

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """A hashed name is its file, for good; a name no file can have is a 404."""
        original = ORIGINALS.get(path)
        if original is not None and self.path == str(STATIC_DIRECTORY):
            return StaticFiles(STATIC_DIRECTORY / original, lifetime=IMMUTABLE)
        if not path or b"\x00" in path:
            return self.childNotFound
        child = super().getChild(path, request)
        if isinstance(child, StaticFiles):
            child.lifetime = CACHE_CONTROL
        return child

    def render_GET(self, request: IRequest) -> bytes | int:
        self.restat(False)
        if self.isfile():
            modified = int(self.getModificationTime() * 1_000_000)
            gzipped = request.responseHeaders.hasHeader(b"content-encoding")
            variant = "-gzip" if gzipped else ""
            tag = f'"{modified:x}-{self.getsize():x}{variant}"'.encode("ascii")
            request.setHeader(b"Cache-Control", self.lifetime)
            if request.setETag(tag) is http.CACHED:
                return b""
        return super().render_GET(request)

    render_HEAD = render_GET
