# -*- test-case-name: tests.test_web_routes -*-
"""
Test doubles for code that uses htcpcp, as treq ships C{StubTreq}: a pot
server in memory on a L{Clock}, a client for it, and a history without a
database.

    server, clock = memory_server()
    client = MemoryPotClient(server, clock)
    response = client.brew("coffee://ducky/pot-0").result   # fired already

L{MemoryPotClient} offers L{htcpcp.client.PotClient}'s public API: every
request is serialized, fed to the server's own protocol as bytes, and its
response parsed, so a test sees exactly what the pot would answer, at
once.  L{MemoryHistory} stands in for the SQLite history without its
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from htcpcp.client import Exchange, PotCommands
from htcpcp.config import Config, default_config
from htcpcp.message import NEED_DATA, Response, ResponseParser, serialize_request
from htcpcp.pot import Brew
from htcpcp.protocol import PotServerProtocol
from htcpcp.service import PotServer, buildPotServer
from htcpcp.storage import History

__all__ = [
    "START",
    "FirstBean",
    "MemoryConnection",
    "MemoryHistory",
    "MemoryPotClient",
    "memory_server",
]

START = 1_700_000_000
"""Where a memory server's clock starts: a moment in November 2023."""


class FirstBean:
    """A deterministic bean chooser (the first bean every time)."""

    def choice(self, beans: Sequence[Any]) -> Any:
        return beans[0]


def memory_server(
    config: Config | None = None, history: History | MemoryHistory | None = None
) -> tuple[PotServer, Clock]:
    """A pot server on a L{Clock} (at L{START}), with no network and the first bean always."""
    clock = Clock()
    clock.advance(START)
    server = buildPotServer(config or default_config(), history, clock, FirstBean())  # type: ignore[arg-type]
    return server, clock


class MemoryConnection:
    """One in-memory connection to a pot server, over a L{StringTransport}."""

    def __init__(self, server: PotServer, transport: StringTransport | None = None) -> None:
        self.transport = transport or StringTransport()
        self.protocol: PotServerProtocol = server.factory.buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        self._parser = ResponseParser()
        self._seen = 0

    def send(self, data: bytes) -> None:
        """Deliver C{data} to the server, as if it arrived."""
        self.protocol.dataReceived(data)

    def responses(self, head: bool = False) -> list[Response]:
        """Every complete response written since the last call."""
        written = self.transport.value()
        if len(written) > self._seen:
            self._parser.receive_data(written[self._seen :])
        self._seen = len(written)
        found: list[Response] = []
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
        """Whether the server is closing the connection."""
        return bool(self.transport.disconnecting)


class MemoryHistory:
    """The brew history's interface, in memory and synchronous."""

    def __init__(self) -> None:
        self.brews: dict[str, Brew] = {}

    def prepare(self) -> list[Brew]:
        return []

    def record(self, brew: Brew) -> Deferred[None]:
        self.brews[brew.id] = brew
        return succeed(None)

    def page(self, pot: str | None, page: int, per_page: int) -> Deferred[dict[str, Any]]:
        chosen = [b for b in self.brews.values() if pot in (None, b.pot)]
        chosen.sort(key=lambda b: b.started, reverse=True)
        outcomes: dict[str, int] = {}
        for brew in chosen:
            outcomes[brew.outcome] = outcomes.get(brew.outcome, 0) + 1
        start = (page - 1) * per_page
        rows = [{**asdict(b), "resumed": False} for b in chosen[start : start + per_page]]
        return succeed(
            {
                "page": page,
                "per_page": per_page,
                "total": len(chosen),
                "pages": max(1, -(-len(chosen) // per_page)),
                "outcomes": outcomes,
                "brews": rows,
            }
        )

    def close(self) -> Deferred[None]:
        """Nothing to close."""
        return succeed(None)


@dataclass
class MemoryPotClient(PotCommands):
    """
    The public API of L{htcpcp.client.PotClient}, over an in-memory pot server.

    @ivar down: when set, every request fails with it (a pot that is away).
    @ivar sent: every request sent, as bytes.
    """

    server: PotServer
    clock: Clock
    on_exchange: Callable[[Exchange], object] | None = None
    down: Exception | None = None
    sent: list[bytes] = field(default_factory=list)
    closed: bool = False

    def methods(self) -> list[str]:
        """The method of every request sent, in order."""
        return [data.split(b" ", 1)[0].decode() for data in self.sent]

    def _send(self, data: bytes, *, head: bool = False) -> Deferred[Response]:
        self.sent.append(data)
        started = self.clock.seconds()
        if self.down is not None:
            self._report(Exchange("memory", data, None, None, started, 0.0, str(self.down)))
            return fail(self.down)
        response = self.answer(data, head)
        self._report(Exchange("memory", data, response.raw, response.status, started, 0.0, None))
        return succeed(response)

    def answer(self, data: bytes, head: bool) -> Response:
        """The pot server's answer to C{data}."""
        return MemoryConnection(self.server).exchange(data, head)

    def _report(self, exchange: Exchange) -> None:
        if self.on_exchange is not None:
            self.on_exchange(exchange)

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Deferred[Response]:
        data = serialize_request(method, target, [("Host", "ducky"), *headers], body)
        return self._send(data, head=method == "HEAD")

    def send_raw(self, data: bytes, endpoint_target: str | None = None) -> Deferred[Response]:
        return self._send(data, head=data.startswith(b"HEAD "))

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)
