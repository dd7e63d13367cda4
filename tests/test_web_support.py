"""
Shared fixtures of the web front end's tests (no tests here).

A front end over the in-memory pot client of L{htcpcp.testing}
(L{MemoryPotClient}, a real pot server held in memory on a L{Clock}), and a
StubTreq to browse it: tests see exactly what the pot would answer,
synchronously.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from htcpcp.client import ClientError, PotUnreachable
from htcpcp.config import Config
from htcpcp.message import Response
from htcpcp.testing import MemoryHistory, MemoryPotClient
from htcpcp.web import FrontEnd
from htcpcp.web.pots.inspector import Inspector

from .helpers import fast_config, memory_server

ORIGIN = "https://coffee.example"
CSRF = re.compile(r'name="__csrf_protection__" value="([0-9a-f]+)"')


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
