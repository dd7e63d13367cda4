"""
Shared fixtures of the web front end's tests (no tests here).

L{MemoryPotClient} offers L{htcpcp.client.PotClient}'s public API over a
real pot server held in memory on a L{Clock}: every request is serialized,
fed to the server's own protocol as bytes, and its response parsed, so
StubTreq tests see exactly what the pot would answer, synchronously.
L{MemoryHistory} stands in for the SQLite history without its thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin

from treq.testing import StubTreq
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from htcpcp.client import ClientError, Exchange, PotCommands, PotUnreachable
from htcpcp.config import Config
from htcpcp.message import Response, serialize_request
from htcpcp.pot import Brew
from htcpcp.service import PotServer
from htcpcp.web import FrontEnd
from htcpcp.web.inspector import Inspector

from .helpers import Connection, fast_config, memory_server

ORIGIN = "https://coffee.example"
CSRF = re.compile(r'name="__csrf_protection__" value="([0-9a-f]+)"')


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

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class MemoryPotClient(PotCommands):
    """
    The public API of L{PotClient}, over an in-memory pot server.

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

    def _send(self, data: bytes, head: bool = False) -> Deferred[Response]:
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
        return Connection(self.server).exchange(data, head)

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
        return self._send(data, method == "HEAD")

    def send_raw(self, data: bytes, endpoint_target: str | None = None) -> Deferred[Response]:
        return self._send(data, data.startswith(b"HEAD "))

    def close(self) -> Deferred[None]:
        self.closed = True
        return succeed(None)


class UnlistedPotClient(MemoryPotClient):
    """A pot server that does not list its pots (C{GET /pots} is 404), as a peer's might not."""

    def answer(self, data: bytes, head: bool) -> Response:
        if not data.startswith(b"GET /pots "):
            return super().answer(data, head)
        body = b"no such resource\n"
        head_part = b"HTCPCP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(body)
        return Response("HTCPCP/1.1", 404, "Not Found", {}, body, head_part + body)


@dataclass
class Web:
    """A front end over an in-memory pot server, and a StubTreq to browse it."""

    front: FrontEnd
    client: MemoryPotClient
    clock: Clock
    history: MemoryHistory
    stub: StubTreq

    def go(self, path: str, method: str = "GET", origin: str = ORIGIN, **kwargs: Any) -> Any:
        """Request C{path}; the response, with its body decoded as C{.page}."""
        kwargs.setdefault("allow_redirects", False)
        response = _result(self.stub.request(method, origin + path, **kwargs))
        response.page = _result(response.text("utf-8"))
        return response

    def token(self, path: str = "/", origin: str = ORIGIN) -> str:
        """The CSRF token of this browser's session, from a page's form."""
        found = CSRF.search(self.go(path, origin=origin).page)
        assert found is not None, "no CSRF field on the page"
        return found.group(1)

    def post(self, path: str, fields: dict[str, Any], origin: str = ORIGIN, **kwargs: Any) -> Any:
        """Submit a form with this browser's CSRF token."""
        data = {"__csrf_protection__": self.token(origin=origin), **fields}
        return self.go(path, "POST", origin, data=data, **kwargs)

    def submit(self, path: str, fields: dict[str, Any], origin: str = ORIGIN, **kwargs: Any) -> Any:
        """
        Submit a form and follow its redirect (POST-redirect-GET): the page
        it leads to, with the form's own answer as C{.posted}.
        """
        posted = self.post(path, fields, origin, **kwargs)
        assert posted.code == 303, (posted.code, posted.page)
        [location] = posted.headers.getRawHeaders("location")
        target = urljoin(origin + path, location)
        shown = self.go(target[len(origin) :], origin=origin)
        shown.posted = posted
        return shown

    def later(self, seconds: float) -> None:
        """Let C{seconds} pass for the pots and the front end."""
        self.clock.advance(seconds)
        self.stub.flush()


def _result(deferred: Deferred[Any]) -> Any:
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, "the request did not finish"
    if hasattr(results[0], "raiseException"):
        results[0].raiseException()
    return results[0]


def make_web(
    config: Config | None = None,
    heartbeat: float = 15.0,
    retry: float = 1.0,
    listing: bool = True,
) -> Web:
    """
    A front end over an in-memory pot server, both on one L{Clock}.

    @param listing: whether the pot server lists its pots (C{GET /pots});
        without, it is like another HTCPCP server that does not.
    """
    history = MemoryHistory()
    server, clock = memory_server(config or fast_config(), history)  # type: ignore[arg-type]
    inspector = Inspector()
    kind = MemoryPotClient if listing else UnlistedPotClient
    client = kind(server, clock, inspector.record)
    front = FrontEnd(client, inspector=inspector, clock=clock, heartbeat=heartbeat, retry=retry)  # type: ignore[arg-type]
    return Web(front, client, clock, history, StubTreq(front.resource()))


def unreachable() -> ClientError:
    return PotUnreachable("127.0.0.1:5030 refused the connection (is the pot server running?)")
