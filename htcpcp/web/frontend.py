# -*- test-case-name: tests.test_web_embed -*-
"""
The web front end assembled: one object to mount, one to close.

    front = FrontEnd.connect("tcp:127.0.0.1:5030")
    root.putChild(b"coffee", front.resource())     # in any twisted.web tree
    ...
    await front.close()

L{FrontEnd.connect} makes the L{PotClient} (whose exchanges the protocol
inspector shows); L{FrontEnd} also takes a client made elsewhere, and owns
it from then on: L{FrontEnd.close} ends the live streams and closes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import IResource

from htcpcp.client import PotClient
from htcpcp.web.api.documents import snapshot_document
from htcpcp.web.app import WebApplication
from htcpcp.web.http.endpoints import redactor
from htcpcp.web.http.security import WebRoot
from htcpcp.web.http.sessions import SESSION_FILE, SessionStore
from htcpcp.web.pots.gateway import PotGateway
from htcpcp.web.pots.inspector import Inspector
from htcpcp.web.pots.live import LiveFeed
from htcpcp.web.pots.model import Snapshot

__all__ = ["FrontEnd"]


def _global_reactor() -> Any:
    from twisted.internet import reactor

    return reactor


class FrontEnd:
    """
    The web front end over one pot server.

    @param client: how the pots are reached (owned from now on).
    @param inspector: where the client reports its exchanges, if anywhere.
    @param clock: the clock for status age, sessions and the live loop.
    @param heartbeat: the longest the pots' status is reused while none is changing.
    @param retry: seconds between two tries while the pot server cannot be used.
    @param redact: hides what people should not see in error messages.
    @param data_dir: where the sessions are kept (L{SESSION_FILE}), or
        C{None} to keep them in memory.
    """

    def __init__(
        self,
        client: PotClient,
        *,
        inspector: Inspector | None = None,
        clock: IReactorTime | None = None,
        heartbeat: float = 15.0,
        retry: float = 5.0,
        redact: Callable[[str], str] = str,
        data_dir: str | Path | None = None,
    ) -> None:
        clock = clock or _global_reactor()
        self.inspector = inspector or Inspector(redact=redact)
        self.gateway = PotGateway(client, clock, heartbeat=heartbeat, retry=retry, redact=redact)
        self.feed = LiveFeed(self.gateway, clock, self._document)
        path = None if data_dir is None else Path(data_dir) / SESSION_FILE
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.sessions = SessionStore(clock, path)
        self.application = WebApplication(self.gateway, self.feed, self.inspector, self.sessions)
        self._resource = WebRoot(self.application.resource(), self.application.home_at_once)

    @classmethod
    def connect(
        cls,
        pot_at: str,
        *,
        reactor: Any = None,
        timeout: float = 10.0,
        heartbeat: float = 15.0,
        retry: float = 5.0,
        data_dir: str | Path | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> FrontEnd:
        """
        A front end for the pot server at the client endpoint C{pot_at}
        (C{tcp:127.0.0.1:5030}, C{tls:pots.example:5030:trustRoots=/etc/ca});
        C{client_options} are more keyword arguments of its L{PotClient}.
        """
        reactor = reactor or _global_reactor()
        redact = redactor(pot_at)
        inspector = Inspector(redact=redact)
        client = PotClient(
            reactor,
            endpoint=pot_at,
            timeout=timeout,
            on_exchange=inspector.record,
            **(client_options or {}),
        )
        return cls(
            client,
            inspector=inspector,
            clock=reactor,
            heartbeat=heartbeat,
            retry=retry,
            redact=redact,
            data_dir=data_dir,
        )

    def _document(self, snapshot: Snapshot) -> dict[str, Any]:
        return snapshot_document(snapshot, self.gateway.now())

    def resource(self) -> IResource:
        """The resource to serve or to mount under a path of another site."""
        return self._resource

    def close(self) -> Deferred[None]:
        """End the live streams and close the connections to the pot."""
        self.feed.close()
        self.sessions.close()
        return self.gateway.client.close()
