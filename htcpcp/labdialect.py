# -*- test-case-name: tests.test_lab_dialect -*-
"""
The lab's dialect of HTCPCP: requests written exactly as the original lab's
web app writes them, so that a capture of this suite answers the lab's
questions about message formats the way the lab's own capture does.

    BREW coffee://ducky HTTP/1.1
    Content-Type: application/coffee-pot-command
    Use-Pot: tea
    Accept-Additions: cream; whisky

    start

That is: an absolute C{coffee://NAME} target naming the server, not the
pot; the pot in a C{Use-Pot} header; C{HTTP/1.1}; the Content-Type
C{application/coffee-pot-command} on every request (C{message/teapot} stays
for tea, which the lab never brewed); the additions lower-case and
separated by C{"; "}; no C{Host}; and a body with no C{Content-Length}.
A target with more than a pot (a tea variety, the C{log}, the C{pots} list)
keeps its path.
The lab's app names its pots (C{Use-Pot: tea}); a C{pot-N} target is sent
by name once a PROPFIND or the list of pots has said the pot's name
(L{pot_names_of}), as C{Use-Pot: pot-N} until then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final
from urllib.parse import quote

from htcpcp.urls import parse_target
from htcpcp.vocabulary import LAB_COFFEE_TYPE, TEA_TYPE, media_type

__all__ = ["LAB_CONTENT_TYPE", "LAB_SERVER_NAME", "lab_request", "pot_names_of"]

LAB_CONTENT_TYPE: Final = LAB_COFFEE_TYPE
LAB_SERVER_NAME: Final = "ducky"
"""The name the lab's app puts in its targets: the server, which answers to it by default."""
SERVER_RESOURCES: Final = frozenset({"log", "pots"})
"""The server's own resources (the history, the list of pots): paths, never a C{Use-Pot}."""
_REPLACED: Final = frozenset({"host", "content-type", "content-length", "accept-additions"})


def _lab_additions(value: str) -> str:
    return "; ".join(a.strip().lower() for a in value.split(",") if a.strip())


def lab_request(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    server_name: str = LAB_SERVER_NAME,
    pot_names: Mapping[str, str] | None = None,
) -> bytes:
    """
    Serialize a request as the lab's web app would send it.

    @param target: a coffee URL or an origin-form path (C{/pot-1},
        C{/pot-1/earl-grey?Sugar}, C{/log?page=2}).
    @param server_name: the host of the C{coffee://} target when C{target}
        names none.
    @param pot_names: the names of pots known by number (C{"pot-1": "tea"}).
    @raise urls.TargetError: when C{target} is not a coffee URL or a path.
    """
    parsed = parse_target(target)
    segments = parsed.segments
    use_pot = segments[0] if len(segments) == 1 and segments[0] not in SERVER_RESOURCES else None
    path = "" if use_pot or not segments else "/" + "/".join(quote(s, safe="") for s in segments)
    query = f"?{parsed.query}" if parsed.query else ""
    host = parsed.host or server_name
    authority = f"[{host}]" if ":" in host else host
    if parsed.port is not None:
        authority += f":{parsed.port}"
    lines = [f"{method} coffee://{authority}{path}{query} HTTP/1.1"]
    given = {name.lower(): value for name, value in headers}
    tea = media_type(given.get("content-type", "")) == TEA_TYPE
    lines.append(f"Content-Type: {TEA_TYPE if tea else LAB_CONTENT_TYPE}")
    if "accept-additions" in given:
        lines.append(f"Accept-Additions: {_lab_additions(given['accept-additions'])}")
    if use_pot:
        lines.append(f"Use-Pot: {(pot_names or {}).get(use_pot.lower(), use_pot)}")
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _REPLACED]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def pot_names_of(body: bytes) -> list[tuple[int, str]]:
    """
    The indexes and names of the pots an answer describes: a PROPFIND's
    C{pot}, or every entry of the list of pots (C{GET /pots}).
    """
    try:
        document = json.loads(body)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    listed = document.get("pots")
    described = listed if isinstance(listed, list) else [document.get("pot")]
    found = []
    for pot in described:
        if not isinstance(pot, dict):
            continue
        index, name = pot.get("index"), pot.get("name")
        if isinstance(index, int) and isinstance(name, str) and name.isprintable():
            found.append((index, name))
    return found
