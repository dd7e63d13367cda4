# -*- test-case-name: tests.test_web_tap -*-
"""
The web front end as a Twisted service, and how it finds a pot server of
the same process.

    makeWebService("ssl:5031", "tcp:127.0.0.1:5030", ".htcpcp").setServiceParent(app)

A bare C{ssl:} endpoint gets the self-signed certificate generated into the
data directory (L{htcpcp.tls.with_certificate}).  L{pot_client_endpoint}
turns the server endpoint of a pot served by the same process into the
client endpoint that reaches it over loopback: the web talks to its pots
over a real connection, so their HTCPCP can be watched on the wire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import quoteStringArgument

from htcpcp.endpoint_strings import endpoint_fields
from htcpcp.listening import listening_service
from htcpcp.tls import KeyLog, with_certificate
from htcpcp.web.frontend import FrontEnd
from htcpcp.web.http.site import make_site

__all__ = ["WebService", "makeWebService", "pot_client_endpoint"]

_ANY_ADDRESS: Final = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class WebService(MultiService):
    """Serves a L{FrontEnd} on one endpoint; stopping it ends streams and closes the client."""

    def __init__(self, front: FrontEnd, endpoint: str, keylog: KeyLog | None = None) -> None:
        super().__init__()
        self.front = front
        self.endpoint = endpoint
        site = make_site(front.resource())
        listening_service(endpoint, site, "the web front end", keylog).setServiceParent(self)

    def stopService(self) -> Deferred[None]:
        closing = self.front.close()
        stopping = super().stopService()
        return stopping.addCallback(lambda _: closing)


def makeWebService(
    endpoint: str,
    pot_at: str,
    dataDir: str | Path = ".htcpcp",
    *,
    reactor: Any = None,
    heartbeat: float = 15.0,
    retry: float = 5.0,
    keylog: KeyLog | None = None,
    connections: str = "pooled",
    dialect: str = "rfc",
) -> WebService:
    """
    The web front end on the server endpoint C{endpoint}, for the pot server
    at the client endpoint C{pot_at}, reached with C{connections} in
    C{dialect} (see L{htcpcp.client.PotClient}); C{keylog} records the TLS
    secrets of both.
    """
    endpoint = with_certificate(endpoint, Path(dataDir))
    front = FrontEnd.connect(
        pot_at,
        reactor=reactor,
        heartbeat=heartbeat,
        retry=retry,
        data_dir=dataDir,
        client_options={"keylog": keylog, "connections": connections, "dialect": dialect},
    )
    return WebService(front, endpoint, keylog)


def pot_client_endpoint(description: str, dataDir: str | Path) -> str:
    """
    The client endpoint that reaches the pot server endpoint C{description}
    of this process: C{tcp:5030} is reached at C{tcp:127.0.0.1:5030}, a bare
    C{ssl:5443} with TLS trusting the certificates in the data directory
    (where the generated one is), C{unix:PATH} at its path.

    @raise ValueError: for an endpoint it cannot guess the way to (give the
        web's C{--pot-at} then).
    """
    kind, positional, keywords = endpoint_fields(description)
    if kind == "unix":
        path = keywords.get("address") or (positional[0] if positional else "")
        if not path:
            raise ValueError(f"{description!r} names no socket path")
        return f"unix:path={quoteStringArgument(path)}"
    if kind not in ("tcp", "tcp6", "ssl"):
        raise ValueError(f"cannot tell how to reach a pot served on {description!r}")
    port = keywords.get("port") or (positional[0] if positional else "")
    if not port.isdigit() or port == "0":
        raise ValueError(f"{description!r} names no fixed port")
    interface = keywords.get("interface", "::" if kind == "tcp6" else "")
    host = _ANY_ADDRESS.get(interface, interface)
    if kind != "ssl":
        return f"tcp:host={quoteStringArgument(host)}:port={port}"
    if "privateKey" in keywords or "certKey" in keywords:
        raise ValueError(
            f"the pot on {description!r} uses your own certificate: give --pot-at"
            " tls:HOST:PORT:trustRoots=DIRECTORY so the web can verify it"
        )
    roots = quoteStringArgument(str(Path(dataDir).absolute()))
    return f"tls:host={quoteStringArgument(host)}:port={port}:trustRoots={roots}"
