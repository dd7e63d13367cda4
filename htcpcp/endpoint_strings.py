# -*- test-case-name: tests.test_lab_listening -*-
"""
Reading Twisted endpoint strings (C{tcp:host:port}, C{ssl:5443:privateKey=...}),
once for the whole suite: the listening side, the client and the web.

Only the fields are read here; Twisted's C{serverFromString} and
C{clientFromString} still make the endpoints.
"""

from __future__ import annotations

__all__ = ["endpoint_authority", "endpoint_fields"]


def endpoint_fields(description: str) -> tuple[str, list[str], dict[str, str]]:
    """
    The kind, positional and keyword arguments of an endpoint string, with
    Twisted's escapes (C{\\:} and C{\\\\}, see C{quoteStringArgument}) undone.
    """
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for character in description:
        if escaped:
            current.append(character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    positional = [p for p in parts[1:] if "=" not in p]
    keywords = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    return parts[0].strip().lower(), positional, keywords


def endpoint_authority(description: str) -> tuple[str, str | None]:
    """
    The host and port a client endpoint string names: C{localhost} when it
    names no host (a C{unix:} socket, say), C{None} for no port.
    """
    kind, positional, keywords = endpoint_fields(description)
    if kind == "unix":
        return "localhost", None
    host = keywords.get("host") or (positional[0] if positional else "localhost")
    port = keywords.get("port") or (positional[1] if len(positional) > 1 else None)
    return host, port
