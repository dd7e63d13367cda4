# -*- test-case-name: tests.test_protocol -*-
"""
HTCPCP's words, written once: its methods, which are safe, its media types
and the commands a BREW body may carry.

RFC 2324 section 2.1 names the methods; section 2.2.1.1 the C{Safe}
header; section 2.1.1 and RFC 7168 section 2.1.1 the media types (with
C{application/coffee-pot-command}, as section 2.1.1 is printed and as the
lab's clients send).  The server, the client, the checker and the web all
read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = [
    "CHANGES",
    "COFFEE_TYPE",
    "COFFEE_TYPES",
    "COMMANDS",
    "LAB_COFFEE_TYPE",
    "LENGTHLESS_BODY_METHODS",
    "MEDIA_TYPES",
    "METHODS",
    "SAFE",
    "SAFE_METHODS",
    "TEA_TYPE",
    "media_type",
]

METHODS: Final = ("BREW", "POST", "GET", "HEAD", "PROPFIND", "WHEN", "OPTIONS")
"""Every HTCPCP method (RFC 2324 section 2.1, with HTTP's HEAD and OPTIONS)."""
SAFE: Final[Mapping[str, str]] = {
    "GET": "yes",
    "HEAD": "yes",
    "PROPFIND": "yes",
    "OPTIONS": "yes",
    "BREW": "no",
    "POST": "no",
    "WHEN": "no",
}
"""The RFC 2324 C{Safe} header value for each method."""
SAFE_METHODS: Final = frozenset(method for method, safe in SAFE.items() if safe == "yes")
"""Methods that change nothing: a client may send them twice."""
CHANGES: Final = frozenset(METHODS) - SAFE_METHODS
"""Methods that change a pot."""
LENGTHLESS_BODY_METHODS: Final = frozenset({"BREW", "POST"})
"""Methods whose body may come without a length (the lab's clients send one so)."""

COFFEE_TYPE: Final = "message/coffeepot"
"""RFC 2324's media type for a coffee command."""
LAB_COFFEE_TYPE: Final = "application/coffee-pot-command"
"""RFC 2324 section 2.1.1 as printed, and what the lab's clients send."""
COFFEE_TYPES: Final = frozenset({COFFEE_TYPE, LAB_COFFEE_TYPE})
TEA_TYPE: Final = "message/teapot"
"""RFC 7168's media type for a tea command."""
MEDIA_TYPES: Final = COFFEE_TYPES | {TEA_TYPE}
"""Every HTCPCP media type: a request with any other Content-Type is refused (415)."""

COMMANDS: Final = (b"start", b"stop")
"""What a BREW body says (case-insensitive, surrounding whitespace ignored)."""


def media_type(value: str) -> str:
    """A Content-Type's media type alone, lower-case."""
    return value.partition(";")[0].strip().lower()
