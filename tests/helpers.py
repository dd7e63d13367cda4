"""Shared test helpers: in-memory pot servers (from L{htcpcp.testing}), tools, parsing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import SkipTest

from htcpcp import testing
from htcpcp.config import Config, default_config
from htcpcp.message import (
    DEFAULT_LIMITS,
    NEED_DATA,
    PEER_CLOSED,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    Response,
)
from htcpcp.service import PotServer
from htcpcp.storage import History
from htcpcp.testing import FirstBean
from htcpcp.testing import MemoryConnection as Connection

__all__ = [
    "Connection",
    "FirstBean",
    "eventually",
    "fast_config",
    "free_port",
    "json_body",
    "memory_server",
    "parse_pieces",
    "require_program",
    "wait_for_port",
    "wait_until",
]


def require_program(name: str, debian_package: str) -> str:
    """
    The path of program C{name}; skip loudly without it, or fail under C{HTCPCP_REQUIRE_TOOLS=1}.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed, so the tests that run it cannot"
        if os.environ.get("HTCPCP_REQUIRE_TOOLS") == "1":
            raise AssertionError(f"{message} (HTCPCP_REQUIRE_TOOLS=1)")
        raise SkipTest(f"*** SKIPPED: {message} (Debian: apt-get install {debian_package}) ***")
    return path


def fast_config(**changes: Any) -> Config:
    """
    The default world for tests, the coffee pot's brew time pinned at 30 s.

    Its timings are what many expected values follow (a brew of 30 s, a
    quiet time of 0.5 s): shorter ones would change those answers.
    """
    config = default_config().with_brew_time(30.0)
    return replace(config, **changes)


def memory_server(
    config: Config | None = None, history: History | None = None
) -> tuple[PotServer, Clock]:
    """A pot server on a L{Clock}, with no network (L{htcpcp.testing.memory_server})."""
    return testing.memory_server(config or fast_config(), history)


def json_body(response: Response) -> Any:
    return json.loads(response.body)


def parse_pieces(
    pieces: list[bytes], limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Request], object]:
    """Feed C{pieces} to a request parser, then end of input; return the requests and the end."""
    parser = RequestParser(limits)
    found: list[Request] = []
    try:
        for piece in [*pieces, b""]:
            parser.receive_data(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                if event is PEER_CLOSED:
                    return found, PEER_CLOSED
                assert isinstance(event, Request)
                found.append(event)
    except ProtocolError as error:
        return found, error.status
    return found, NEED_DATA


T = TypeVar("T")


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait on the reactor until C{condition()} holds; fail if not within C{within} seconds."""
    from twisted.internet import reactor

    deadline = reactor.seconds() + within  # type: ignore[attr-defined]
    while not condition():
        if reactor.seconds() > deadline:  # type: ignore[attr-defined]
            raise AssertionError(f"{condition} did not hold within {within} s")
        await deferLater(reactor, 0.01)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], T], what: str, within: float) -> T:
    """
    Block until C{condition()} is true and return it; an exception counts
    as not yet, but for an L{AssertionError}, which ends the wait.

    For tests without a running reactor that wait for another process (a
    server starting, a browser drawing); fails naming C{what} after C{within} s.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            found = condition()
        except AssertionError:
            raise
        except Exception:
            found = None  # type: ignore[assignment]
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 when asked (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], within: float = 20.0) -> None:
    """Wait until C{process} listens on C{port} of 127.0.0.1; fail at once if it exits."""

    def listening() -> bool:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"the process exited with {process.returncode}:\n{output}")
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_until(listening, f"a listener on port {port}", within)
