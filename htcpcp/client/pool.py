# -*- test-case-name: tests.test_client -*-
"""
Idle keep-alive connections, per destination, and how a request's
destination (its L{Route}) is named.

A connection goes back to the pool only when it is reusable (see
L{htcpcp.client.protocol}); a failed connection attempt becomes a
L{ClientError} that says why in one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from twisted.internet import error as internet_error
from twisted.internet.defer import CancelledError, Deferred, gatherResults, succeed
from twisted.internet.interfaces import (
    IDelayedCall,
    IProtocol,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.python.failure import Failure

from htcpcp.client.errors import PotTimeout, PotUnreachable
from htcpcp.client.protocol import HTCPCPClientFactory, HTCPCPClientProtocol

__all__ = ["ConnectionPool", "Route"]


@dataclass(frozen=True)
class Route:
    """Where a request goes: its pool key, endpoint and headers."""

    key: str
    where: str
    hostname: str
    host_header: str
    endpoint: IStreamClientEndpoint = field(compare=False)


@dataclass(frozen=True)
class _Idle:
    protocol: HTCPCPClientProtocol
    expiry: IDelayedCall


def _connect_error(reason: Failure, route: Route) -> Failure:
    """Turn a failed connection attempt into a L{ClientError} failure."""
    if reason.check(CancelledError):
        return reason
    if reason.check(internet_error.ConnectingCancelledError):
        return Failure(CancelledError())
    if reason.check(internet_error.ConnectionRefusedError):
        message = f"{route.where} refused the connection (is the pot server running?)"
    elif reason.check(internet_error.DNSLookupError):
        message = f"cannot find the host {route.hostname!r}"
    elif reason.check(internet_error.TimeoutError):
        return Failure(PotTimeout(f"connecting to {route.where} timed out"))
    else:
        message = f"cannot connect to {route.where}: {reason.getErrorMessage()}"
    return Failure(PotUnreachable(message))


def _new_connection(protocol: IProtocol) -> tuple[HTCPCPClientProtocol, bool]:
    """A new connection: the protocol the endpoint fires with is the one its factory built."""
    return cast(HTCPCPClientProtocol, protocol), False


class ConnectionPool:
    """
    Idle keep-alive connections, per destination.

    At most C{max_idle} idle connections are kept per destination (the
    oldest is closed to make room), and each closes after C{idle_timeout}
    seconds unused.
    """

    def __init__(self, clock: IReactorTime, max_idle: int = 4, idle_timeout: float = 30.0) -> None:
        self._clock = clock
        self._max_idle = max_idle
        self._idle_timeout = idle_timeout
        self._idle: dict[str, list[_Idle]] = {}
        self._shutting: set[HTCPCPClientProtocol] = set()
        self._closing = False

    def idle_count(self, key: str | None = None) -> int:
        """Idle connections kept for C{key}, or for every destination."""
        if key is not None:
            return len(self._idle.get(key, ()))
        return sum(len(entries) for entries in self._idle.values())

    def acquire(
        self, route: Route, *, fresh: bool = False
    ) -> Deferred[tuple[HTCPCPClientProtocol, bool]]:
        """A connection to C{route} and whether it is a reused one."""
        entries = self._idle.get(route.key, [])
        while entries and not fresh:
            entry = entries.pop()
            entry.expiry.cancel()
            entry.protocol.on_idle_lost = None
            if entry.protocol.reusable:
                return succeed((entry.protocol, True))
        connecting = route.endpoint.connect(HTCPCPClientFactory(route.where, route.hostname))
        connecting.addErrback(_connect_error, route)
        return connecting.addCallback(_new_connection)

    def release(self, key: str, protocol: HTCPCPClientProtocol) -> bool:
        """Keep C{protocol} for the next request, or close it; whether it was kept."""
        if not protocol.reusable:
            return False
        if self._closing or self._max_idle <= 0:
            self._shutting.add(protocol)
            protocol.when_closed().addCallback(lambda _: self._shutting.discard(protocol))
            protocol.transport.loseConnection()
            return False
        entries = self._idle.setdefault(key, [])
        if len(entries) >= self._max_idle:
            oldest = entries.pop(0)
            oldest.expiry.cancel()
            oldest.protocol.on_idle_lost = None
            oldest.protocol.transport.loseConnection()
        expiry = self._clock.callLater(self._idle_timeout, self._expire, key, protocol)
        entries.append(_Idle(protocol, expiry))
        protocol.on_idle_lost = lambda lost: self._forget(key, lost, cancel=True)
        return True

    def _forget(self, key: str, protocol: HTCPCPClientProtocol, *, cancel: bool) -> None:
        entries = self._idle.get(key, [])
        for entry in entries:
            if entry.protocol is protocol:
                entries.remove(entry)
                if cancel:
                    entry.expiry.cancel()
                break
        if not entries:
            self._idle.pop(key, None)

    def _expire(self, key: str, protocol: HTCPCPClientProtocol) -> None:
        self._forget(key, protocol, cancel=False)
        protocol.on_idle_lost = None
        protocol.transport.loseConnection()

    def close(self) -> Deferred[None]:
        """
        Close every idle connection and wait for those being closed; later
        releases close theirs too.
        """
        self._closing = True
        closing = []
        for entries in self._idle.values():
            for entry in entries:
                entry.expiry.cancel()
                entry.protocol.on_idle_lost = None
                closing.append(entry.protocol.when_closed())
                entry.protocol.transport.loseConnection()
        self._idle.clear()
        closing += [protocol.when_closed() for protocol in self._shutting]
        return gatherResults(closing).addCallback(lambda _: None)
