# -*- test-case-name: tests.test_urls -*-
"""
Coffee URLs and request targets (RFC 2324 section 3, RFC 7168 section 2.1).

Every coffee scheme the RFC lists is accepted percent-encoded or as an IRI,
in any case, plus the Catalan/French erratum variants and C{tea}.  Generic
URI parsers cannot be used: most of these schemes are not valid URI schemes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

__all__ = ["COFFEE_SCHEMES", "Target", "TargetError", "parse_target", "split_query"]

COFFEE_SCHEMES: Final = (
    "koffie",
    "q%C3%A6hv%C3%A6",
    "%D9%82%D9%87%D9%88%D8%A9",
    "akeita",
    "koffee",
    "kahva",
    "kafe",
    "caf%C3%E8",
    "%E5%92%96%E5%95%A1",
    "kava",
    "k%C3%A1va",
    "kaffe",
    "coffee",
    "kafo",
    "kohv",
    "kahvi",
    "%4Baffee",
    "%CE%BA%CE%B1%CF%86%CE%AD",
    "%E0%A4%95%E0%A5%8C%E0%A4%AB%E0%A5%80",
    "%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC",
    "%EC%BB%A4%ED%94%BC",
    "%D0%BA%D0%BE%D1%84%D0%B5",
    "%E0%B8%81%E0%B8%B2%E0%B9%81%E0%B8%9F",
)
"""The 23 coffee schemes of RFC 2324 section 3, as printed."""

CAFE_VARIANTS: Final = ("caf%C3%E9", "caf%C3%A9", "caf%C3%A8")
"""Erratum 3492's spelling and the two valid UTF-8 spellings of cafe."""


def _fold(raw: bytes) -> bytes:
    """Case-fold a decoded scheme: Unicode-aware when it is valid UTF-8."""
    try:
        return raw.decode("utf-8").lower().encode("utf-8")
    except UnicodeDecodeError:
        return raw.lower()


def _scheme_key(scheme: str) -> bytes:
    return _fold(unquote_to_bytes(scheme.encode("utf-8", "surrogateescape")))


_SCHEMES: Final = {
    **{_scheme_key(s): "coffee" for s in (*COFFEE_SCHEMES, *CAFE_VARIANTS)},
    _scheme_key("tea"): "tea",
}


class TargetError(ValueError):
    """A request target that is not a coffee URL or an origin-form path."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Target:
    """
    A parsed request target.

    @ivar scheme: C{"coffee"}, C{"tea"}, C{"http"} (see L{parse_target}) or
        C{None} for origin form.
    @ivar host: the host, lower-case, or C{None}.
    @ivar port: the port, or C{None}.
    @ivar segments: the decoded, non-empty path segments.
    @ivar query: the raw query string (without C{?}).
    """

    scheme: str | None
    host: str | None
    port: int | None
    segments: tuple[str, ...]
    query: str = ""


def _split_authority(authority: str) -> tuple[str, int | None]:
    authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise TargetError(400, "malformed host")
        port_text = rest[1:]
    else:
        host, _, port_text = authority.partition(":")
    port = None
    if port_text:
        if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
            raise TargetError(400, "malformed port")
        port = int(port_text)
    return unquote(host).lower().rstrip("."), port


HTTP_SCHEMES: Final = frozenset({b"http", b"https"})


def parse_target(target: str, *, http: bool = False) -> Target:
    """
    Parse a request target: a coffee URL, C{tea://...}, origin form or C{*}.

    @param http: also accept C{http(s)://} targets, scheme C{"http"} (a
        server must accept an HTTP tool's absolute form, RFC 9112 section
        3.2.2; a client has no business sending one).
    @raise TargetError: with status 400 for an unknown scheme or bad syntax.
    """
    if target == "*":
        return Target(None, None, None, ())
    rest, _, query = target.partition("?")
    rest = rest.partition("#")[0]
    scheme = None
    host = None
    port = None
    if not rest.startswith("/"):
        raw_scheme, colon, rest = rest.partition(":")
        if not colon or not raw_scheme:
            raise TargetError(400, "the target is neither a coffee URL nor a path")
        key = _scheme_key(raw_scheme)
        scheme = "http" if http and key in HTTP_SCHEMES else _SCHEMES.get(key)
        if scheme is None:
            raise TargetError(400, f"{raw_scheme!r} is not a coffee URL scheme")
        if rest.startswith("//"):
            authority, slash, path = rest[2:].partition("/")
            host, port = _split_authority(authority)
            rest = slash + path
    segments = tuple(unquote(s) for s in rest.split("/") if s)
    return Target(scheme, host, port, segments, query)


def split_query(query: str) -> list[str]:
    """Split a query string of additions (C{Cream,Whisky} or C{Cream&Skim})."""
    items = (unquote(item.replace("+", " ")).strip() for item in query.replace("&", ",").split(","))
    return [item for item in items if item]
