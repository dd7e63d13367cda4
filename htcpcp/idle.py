# -*- test-case-name: tests.test_protocol -*-
"""
Closing connections that stay idle: one timer for all of a server's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall, IReactorTime

if TYPE_CHECKING:
    from htcpcp.protocol import PotServerProtocol

__all__ = ["IdleConnections"]


class IdleConnections:
    """
    Closes connections that stay idle longer than C{timeout} seconds.

    One timer serves every connection, ticking each C{interval} seconds
    while any is open, instead of a timer per connection that is made,
    moved on every read and cancelled on close: for one request per
    connection, that per-connection timer cost more than parsing the request.
    """

    def __init__(self, clock: IReactorTime, timeout: float, interval: float = 1.0) -> None:
        self._clock = clock
        self._timeout = timeout
        self._interval = interval
        self._since: dict[PotServerProtocol, float] = {}
        self._tick: IDelayedCall | None = None

    def touch(self, connection: PotServerProtocol) -> None:
        """C{connection} was active now; it is idle from now on."""
        self._since[connection] = self._clock.seconds()
        if self._tick is None:
            self._tick = self._clock.callLater(self._interval, self._sweep)

    def forget(self, connection: PotServerProtocol) -> None:
        """C{connection} is closed, or busy on the server's side: not idle."""
        self._since.pop(connection, None)
        if not self._since and self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def _sweep(self) -> None:
        self._tick = None
        deadline = self._clock.seconds() - self._timeout
        for connection, since in list(self._since.items()):
            if since <= deadline:
                del self._since[connection]
                connection.timeoutConnection()
        if self._since:
            self._tick = self._clock.callLater(self._interval, self._sweep)
