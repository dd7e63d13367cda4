"""Shared test helpers: in-memory pot servers and raw loopback exchanges."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SkipTest

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
    ResponseParser,
)
from htcpcp.protocol import PotServerProtocol
from htcpcp.service import PotServer, buildPotServer
from htcpcp.storage import History


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
    """The default world with quick timings, for tests."""
    config = default_config().with_brew_time(30.0)
    return replace(config, **changes)


class FirstBean:
    """A deterministic bean chooser (the first bean every time)."""

    def choice(self, beans: Sequence[Any]) -> Any:
        return beans[0]


def memory_server(
    config: Config | None = None, history: History | None = None
) -> tuple[PotServer, Clock]:
    """A pot server on a L{Clock}, with no network."""
    clock = Clock()
    clock.advance(1_700_000_000)
    server = buildPotServer(config or fast_config(), history, clock, FirstBean())  # type: ignore[arg-type]
    return server, clock


class Connection:
    """One in-memory connection to a pot server."""

    def __init__(self, server: PotServer, transport: StringTransport | None = None) -> None:
        self.transport = transport or StringTransport()
        self.protocol: PotServerProtocol = server.factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        self._parser = ResponseParser()
        self._seen = 0

    def send(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def responses(self, head: bool = False) -> list[Response]:
        """Every complete response written since the last call."""
        written = self.transport.value()
        if len(written) > self._seen:
            self._parser.receive_data(written[self._seen :])
        self._seen = len(written)
        found = []
        while True:
            event = self._parser.next_event(head_request=head)
            if event is NEED_DATA:
                return found
            assert isinstance(event, Response), event
            found.append(event)

    def exchange(self, data: bytes, head: bool = False) -> Response:
        """Send C{data} and return the one response it produced."""
        self.send(data)
        found = self.responses(head)
        assert len(found) == 1, found
        return found[0]

    @property
    def closed(self) -> bool:
        return self.transport.disconnecting


def json_body(response: Response) -> Any:
    return json.loads(response.body)


def raw_exchange(
    port: int, data: bytes | Sequence[bytes], delay: float = 0.0, timeout: float = 5.0
) -> bytes:
    """Send bytes to a loopback port (in parts, with a delay between) and read to close."""
    import time

    parts = [data] if isinstance(data, bytes) else list(data)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for index, part in enumerate(parts):
            if index and delay:
                time.sleep(delay)
            sock.sendall(part)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


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
