# -*- test-case-name: tests.test_web_tap -*-
"""
Naming an endpoint string in public.

The front end shows people why the pot server cannot be reached, and the
protocol inspector shows where each exchange went; both would otherwise
quote the client endpoint string, which can hold a server's file paths
(C{trustRoots=/etc/...}).  L{public_name} is what is shown instead.
"""

from __future__ import annotations

from collections.abc import Callable

from htcpcp.endpoint_strings import endpoint_fields

__all__ = ["public_name", "redactor"]


def public_name(description: str) -> str:
    """C{host:port} for a network endpoint, or C{the pot server}."""
    kind, positional, keywords = endpoint_fields(description)
    host = keywords.get("host") or (positional[0] if positional else "")
    port = keywords.get("port") or (positional[1] if len(positional) > 1 else "")
    if kind in ("unix", "") or not host or not port:
        return "the pot server"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def redactor(description: str) -> Callable[[str], str]:
    """A function replacing C{description} with its public name in a text."""
    public = public_name(description)
    return lambda text: text.replace(description, public)
