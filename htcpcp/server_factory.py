# -*- test-case-name: tests.test_protocol -*-
"""
What a pot server's connections share: L{PotServerFactory} holds the
dispatcher, the configuration and clock, the cache of response bytes (with
the C{Server} header, L{SERVER}), the parsers' memo, the one idle sweeper
and a way to ask the reactor which transports still have bytes to send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from twisted.internet.interfaces import IReactorFDSet, IReactorTime
from twisted.internet.protocol import Factory

from htcpcp import __version__
from htcpcp.config import Config
from htcpcp.idle import IdleConnections
from htcpcp.message import ParseMemo
from htcpcp.protocol import PotServerProtocol
from htcpcp.reply import TEXT, Reply
from htcpcp.response_bytes import ResponseBytes

if TYPE_CHECKING:
    from htcpcp.dispatch import Dispatcher

__all__ = ["SERVER", "PotServerFactory"]

SERVER: Final = f"htcpcp/{__version__} (Twisted)"
"""The C{Server} header of every answer: the product and its version."""


class PotServerFactory(Factory[PotServerProtocol]):
    """Builds L{PotServerProtocol}s sharing one L{Dispatcher}."""

    protocol = PotServerProtocol
    internal_error = Reply(500, b"the pot server had an internal error; it has been logged\n", TEXT)

    def __init__(self, dispatcher: Dispatcher, config: Config, clock: IReactorTime) -> None:
        self.dispatcher = dispatcher
        self.config = config
        self.clock = clock
        self.responses = ResponseBytes(clock, SERVER)
        self.memo = ParseMemo()
        """What this server's connections have read, shared among their parsers."""
        self.idle = IdleConnections(clock, config.idle_timeout)
        self.connections = 0
        fd_set = IReactorFDSet(clock, None)
        self.writers = fd_set.getWriters if fd_set is not None else None
        """
        The reactor's writers, to learn whether a transport has bytes it
        has not sent yet: those are its writers (a short list: connections
        whose socket buffer is full, or written to in this turn).  C{None}
        without a reactor to ask (a test's clock): a transport then always
        may have.
        """

    def buildProtocol(self, addr: object) -> PotServerProtocol:
        return PotServerProtocol(self)
