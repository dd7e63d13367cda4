# -*- test-case-name: tests.test_client -*-
"""
The HTCPCP client: a protocol and factory for one connection, a pool of
keep-alive connections, and L{PotClient}, a Deferred API over coffee URLs.

    client = PotClient(timeout=5.0)
    response = await client.brew("coffee://localhost:5030/pot-0", ["Cream", "Whisky"])
    print(response.status, response.body)
    await client.close()

The package's modules, each one job:

    errors      ClientError and its kinds, each a one-line explanation
    tls         whom to trust, what a failed handshake means
    protocol    one connection: HTCPCPClientProtocol and its factory
    pool        idle keep-alive connections per destination
    commands    PotCommands: brew, stop, get, propfind, when, history
    pot_client  PotClient: routes, dialects, timeouts, the inspector's Exchange
"""

from htcpcp.client.commands import PotCommands, log_target, with_variety
from htcpcp.client.errors import (
    BadResponse,
    ClientError,
    InvalidRequest,
    PotClosed,
    PotTimeout,
    PotTLSError,
    PotUnreachable,
)
from htcpcp.client.pool import ConnectionPool
from htcpcp.client.pot_client import (
    CONNECTIONS,
    DEFAULT_PORT,
    DIALECTS,
    Exchange,
    PotClient,
    Wire,
)
from htcpcp.client.protocol import HTCPCPClientFactory, HTCPCPClientProtocol
from htcpcp.client.tls import load_trust_root

__all__ = [
    "CONNECTIONS",
    "DEFAULT_PORT",
    "DIALECTS",
    "BadResponse",
    "ClientError",
    "ConnectionPool",
    "Exchange",
    "HTCPCPClientFactory",
    "HTCPCPClientProtocol",
    "InvalidRequest",
    "PotClient",
    "PotClosed",
    "PotCommands",
    "PotTLSError",
    "PotTimeout",
    "PotUnreachable",
    "Wire",
    "load_trust_root",
    "log_target",
    "with_variety",
]
