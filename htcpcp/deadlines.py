# -*- test-case-name: tests.test_protocol,tests.test_hostile,tests.test_hostile_limits -*-
"""
The time limits of a pot server connection.

Four limits in time guard every connection: a TLS handshake and then each
whole request, head and body, must arrive within C{request_timeout} (a
client trickling bytes does not extend it), an idle connection closes after
C{idle_timeout} (checked each second by one L{IdleConnections} for all of
them, which calls L{ConnectionDeadlines.timeoutConnection}), and a
length-less body ends after C{body_quiet_time} of silence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall, ISSLTransport
from twisted.logger import Logger

from htcpcp.message import ProtocolError, RequestParser
from htcpcp.transports import IStreamTransport

if TYPE_CHECKING:
    from htcpcp.server_factory import PotServerFactory

__all__ = ["ConnectionDeadlines"]


class ConnectionDeadlines:
    """
    The deadlines of one L{PotServerProtocol}, mixed into it: they are the
    connection's own attributes, looked at on every request.

    The connection provides what is declared here without a value; a
    deadline missed refuses the request (408), aborts the handshake, ends
    the body or closes the connection through those.

    @ivar _request_deadline: the TLS handshake's deadline, then the current
        request's (from its first byte); C{None} between requests.
    @ivar _quiet_timer: the end of a length-less body, moved by each read.
    """

    factory: PotServerFactory
    transport: IStreamTransport
    log: Logger
    _parser: RequestParser
    _closing: bool
    _close: Callable[[], None]
    _process: Callable[[], None]
    _refuse: Callable[[ProtocolError], None]

    _request_deadline: IDelayedCall | None = None
    _quiet_timer: IDelayedCall | None = None

    def _start_handshake_deadline(self) -> None:
        """Over TLS, the handshake must end within C{request_timeout}."""
        if ISSLTransport.providedBy(self.transport):
            self._request_deadline = self.factory.clock.callLater(
                self.factory.config.request_timeout, self._handshake_too_slow
            )

    def handshakeCompleted(self) -> None:
        self._cancel_request_deadline()

    def _handshake_too_slow(self) -> None:
        self._request_deadline = None
        self.log.info("aborting a connection whose TLS handshake did not finish in time")
        self._closing = True
        self.transport.abortConnection()

    def timeoutConnection(self) -> None:
        """Idle too long: close; if already closing (the client reads nothing), abort."""
        if self._closing:
            self.log.info("aborting a connection whose client does not read its answers")
            self.transport.abortConnection()
            return
        self.log.debug("closing idle connection")
        self._close()

    def _arm_timers(self) -> None:
        """Part of a request has arrived: start its deadline, and the quiet timer of its body."""
        parser = self._parser
        config = self.factory.config
        if self._request_deadline is None:
            self._request_deadline = self.factory.clock.callLater(
                config.request_timeout, self._request_too_slow
            )
        if parser.awaiting_lengthless_body and self._quiet_timer is None:
            self._quiet_timer = self.factory.clock.callLater(
                config.body_quiet_time, self._body_went_quiet
            )

    def _request_too_slow(self) -> None:
        self._request_deadline = None
        timeout = self.factory.config.request_timeout
        self._refuse(ProtocolError(408, f"a whole request must arrive within {timeout:g} s"))

    def _body_went_quiet(self) -> None:
        self._quiet_timer = None
        self._parser.end_lengthless_body()
        self._process()

    def _cancel_deadlines(self) -> None:
        """The request arrived or was refused, or the connection is lost."""
        if self._request_deadline is not None:
            self._cancel_request_deadline()
        if self._quiet_timer is not None:
            self._cancel_quiet_timer()

    def _cancel_request_deadline(self) -> None:
        if self._request_deadline is not None:
            if self._request_deadline.active():
                self._request_deadline.cancel()
            self._request_deadline = None

    def _cancel_quiet_timer(self) -> None:
        if self._quiet_timer is not None:
            if self._quiet_timer.active():
                self._quiet_timer.cancel()
            self._quiet_timer = None
