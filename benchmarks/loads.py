"""The requests the benchmark harness sends and the loads it puts on the servers.

Part of ``benchmarks/run.py``. A ``Load`` says what each connection of the C load generator sends
(in order, cycling), how many connections and how many requests in flight on each, whether each
request gets a connection of its own, and which servers receive it (the subject first).
"""

from __future__ import annotations

from dataclasses import dataclass

GET = b"GET /pot-0 HTTP/1.1\r\nHost: localhost\r\n\r\n"
HOME = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def brew(pot: int, command: bytes) -> bytes:
    """A BREW request for ``pot-N`` with ``command`` (start or stop) as its body."""
    return (
        b"BREW /pot-%d HTTP/1.1\r\nHost: localhost\r\nContent-Type: message/coffeepot\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (pot, len(command), command)
    )


BREW_START = brew(0, b"start")
BREW_STOP = brew(0, b"stop")
BREW_POTS = 64
"""
Coffee pots (and connections, one each) of the durable BREW cycles from several connections:
many writers, as a server with many clients has, so that changes can share a commit (each
connection waits for its answer, so N connections put at most N changes in one fsync).
"""


def brew_cycles(pots: int) -> tuple[bytes, ...]:
    """Every pot's BREW start and stop, in the load generator's groups (``-g``)."""
    return tuple(
        request for pot in range(pots) for request in (brew(pot, b"start"), brew(pot, b"stop"))
    )


def pots_config(pots: int) -> str:
    """A configuration of ``pots`` coffee pots, ``pot-0`` to ``pot-N``."""
    return "".join(f"[pot:pot{n}]\nkind = coffee\n\n" for n in range(pots))


@dataclass(frozen=True)
class Load:
    """One load: what each connection sends and which servers receive it (the subject first)."""

    name: str
    title: str
    connections: int
    depth: int
    fresh: bool
    requests: tuple[bytes, ...]
    servers: tuple[str, ...]
    groups: int = 1  # connection i sends part i % groups of ``requests``
