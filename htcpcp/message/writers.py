# -*- test-case-name: tests.test_message -*-
"""
Writing messages: a request as a client sends it, a response as a server does.

The caller chooses every header; these only lay out the lines.
"""

from __future__ import annotations

from collections.abc import Iterable

from htcpcp.message.events import REASONS

__all__ = ["serialize_request", "serialize_response"]


def serialize_response(
    version: str, status: int, headers: Iterable[tuple[str, str]], body: bytes = b""
) -> bytes:
    """Write a response; the caller supplies every header, Content-Length included."""
    lines = [f"{version} {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def serialize_request(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTCPCP/1.1",
) -> bytes:
    """Write a request; Content-Length is added when there is a body."""
    lines = [f"{method} {target} {version}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body
