# -*- test-case-name: tests.test_web_tap -*-
"""
Reading Twisted endpoint strings, and naming one in public.

The front end shows people why the pot server cannot be reached, and the
protocol inspector shows where each exchange went; both would otherwise
quote the client endpoint string, which can hold a server's file paths
(C{trustRoots=/etc/...}).  L{public_name} is what is shown instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["fields", "public_name", "redactor"]

_UNESCAPED_COLON: Final = re.compile(r"(?<!\\):")


def fields(description: str) -> tuple[str, list[str], dict[str, str]]:
    """The kind, positional and keyword arguments of an endpoint string."""
    parts = [p.replace("\\:", ":") for p in _UNESCAPED_COLON.split(description)]
    positional = [p for p in parts[1:] if "=" not in p]
    keywords = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
    return parts[0].strip().lower(), positional, keywords


def public_name(description: str) -> str:
    """C{host:port} for a network endpoint, or C{the pot server}."""
    kind, positional, keywords = fields(description)
    host = keywords.get("host") or (positional[0] if positional else "")
    port = keywords.get("port") or (positional[1] if len(positional) > 1 else "")
    if kind in ("unix", "") or not host or not port:
        return "the pot server"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def redactor(description: str) -> Callable[[str], str]:
    """A function replacing C{description} with its public name in a text."""
    public = public_name(description)
    return lambda text: text.replace(description, public)
