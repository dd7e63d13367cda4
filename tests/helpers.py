"""Shared test helpers: in-memory pot servers (from L{htcpcp.testing}), tools, parsing."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from typing import Any

from twisted.internet.task import Clock
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
    "fast_config",
    "json_body",
    "memory_server",
    "parse_pieces",
    "require_program",
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
