# -*- test-case-name: tests.test_protocol -*-
"""
The pot server's wire side: a L{LineReceiver} that moves bytes and
back-pressure between a connection and the sans-IO L{RequestParser}, and
answers its requests in turn.

Requests on one connection are answered strictly in order, at most
C{ANSWERS_PER_TURN} pipelined ones before other connections get their
turn.  Memory per connection is bounded both ways: reading pauses while an
answer waits for the brew history to be written, while the transport holds
C{MAX_BUFFERED} bytes of answers the client has not read (the connection
is a push producer; it resumes as they drain), and a client that sends
more than C{MAX_BUFFERED} unanswered bytes is refused.  Its limits in time
are in L{htcpcp.deadlines}; what the connections of a server share, in
L{htcpcp.server_factory}.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Final

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IHandshakeListener,
    IPushProducer,
    IWriteDescriptor,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer
from zope.interface.interface import InterfaceClass

from htcpcp.deadlines import ConnectionDeadlines
from htcpcp.history_stream import StreamedReply
from htcpcp.message import NEED_DATA, PEER_CLOSED, ProtocolError, Request, RequestParser
from htcpcp.reply import TEXT, Reply
from htcpcp.transports import IStreamTransport

if TYPE_CHECKING:
    from htcpcp.server_factory import PotServerFactory

__all__ = ["PotServerProtocol"]

MAX_BUFFERED: Final = 64 * 1024
"""Unanswered bytes a connection may hold; answers unread by the client, likewise."""
ANSWERS_PER_TURN: Final = 16
"""Pipelined requests answered at once before other connections get their turn."""
KERNEL_SEND_BUFFER: Final = 64 * 1024
"""Bytes of answers the kernel may hold unsent for one connection."""


@implementer(IHandshakeListener, IPushProducer)
class PotServerProtocol(ConnectionDeadlines, LineReceiver):
    """
    One HTCPCP connection.

    It is an L{IHalfCloseableProtocol} only while that matters (see
    L{__conform__}).
    """

    factory: PotServerFactory
    transport: IStreamTransport
    log = Logger()
    line_mode = 0
    """Bytes go to the parser as they come (L{rawDataReceived}), never split into lines."""

    _waiting = False
    _closing = False
    _continued: Request | None = None
    _next_turn: IDelayedCall | None = None
    _unlimited = KERNEL_SEND_BUFFER
    """Bytes still to send before the kernel's buffer is limited (L{_limit_kernel_send_buffer})."""

    def __init__(self, factory: PotServerFactory) -> None:
        self.factory = factory
        self._idle = factory.idle
        self._parser = RequestParser(factory.config.limits, memo=factory.memo)
        self._output: list[bytes] = []
        self._output_bytes = 0

    def __conform__(self, interface: InterfaceClass) -> PotServerProtocol | None:
        """
        Be an L{IHalfCloseableProtocol} while the client's half-close matters.

        Twisted asks when the client ends its side.  With a request still to
        read or answer, or bytes of ours not yet sent, the connection stays
        half-open until the answers are out (L{readConnectionLost}).  With
        nothing left, a plain protocol's prompt close is just as correct,
        and for clients that close first after each answer (the lab's do)
        it saves a reactor turn and two epoll calls per connection.
        """
        if interface is IHalfCloseableProtocol and not self._finished():
            return self
        return None

    def _finished(self) -> bool:
        """
        Whether everything asked on this connection was answered and sent.

        Bytes a transport has not sent show in the reactor's writers only
        for a transport that is itself a file descriptor (not, say, TLS
        over one): for any other, the answer is no.
        """
        if self._waiting or self._output or not self._parser.idle:
            return False
        writers = self.factory.writers
        transport = self.transport
        return (
            writers is not None
            and IWriteDescriptor.providedBy(transport)
            and transport not in writers()
        )

    def connectionMade(self) -> None:
        self.factory.connections += 1
        self.transport.registerProducer(self, True)
        self._idle.touch(self)
        self._start_handshake_deadline()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.connections -= 1
        self._closing = True
        self._idle.forget(self)
        self._cancel_deadlines()
        if self._next_turn is not None:
            self._next_turn.cancel()
            self._next_turn = None

    def rawDataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        if self._waiting:
            self.transport.pauseProducing()  # an answer waits: the rest waits in the kernel
        else:
            self._idle.touch(self)
        self._parser.receive_data(data)
        if self._quiet_timer is not None:
            self._quiet_timer.reset(self.factory.config.body_quiet_time)
        self._process()
        if self._parser.buffered > MAX_BUFFERED:
            self._refuse(ProtocolError(413, "too much unanswered data"))

    def readConnectionLost(self) -> None:
        """The client half-closed: what it sent so far is all there is."""
        if self._parser.idle and not self._waiting:
            self._close()
            return
        self._parser.receive_data(b"")
        self._process()

    def writeConnectionLost(self) -> None:
        self._close()

    def resumeProducing(self) -> None:
        """The client read our answers: read and answer again (unless an answer still waits)."""
        self.paused = False
        self._resume_reading()
        self._process()

    def _may_read(self) -> bool:
        """
        Whether to read and answer now: not while the client has not read
        our answers (L{paused}), an answer waits for the history, other
        connections have their turn, or the connection is closing.
        """
        return not (self.paused or self._waiting or self._next_turn or self._closing)

    def _resume_reading(self) -> None:
        if self._may_read():
            self.transport.resumeProducing()

    def _take_turn(self) -> None:
        self._next_turn = None
        self._resume_reading()
        self._process()

    def _process(self) -> None:
        try:
            self._answer_buffered()
        finally:
            self._flush()

    def _answer_buffered(self) -> None:
        parser = self._parser
        answered = 0
        while self._may_read():
            if answered == ANSWERS_PER_TURN and not parser.idle:
                self.transport.pauseProducing()
                self._next_turn = self.factory.clock.callLater(0, self._take_turn)
                return
            try:
                event = parser.next_event()
            except ProtocolError as error:
                self._refuse(error)
                return
            if event is NEED_DATA:
                if not parser.idle:
                    self._arm_timers()
                    self._continue_if_asked()
                return
            if event is PEER_CLOSED:
                self._close()
                return
            self._cancel_deadlines()
            self._respond_to(event)
            answered += 1
            if self._output_bytes >= MAX_BUFFERED:
                self._flush()

    def _continue_if_asked(self) -> None:
        """Send C{100 Continue}, once, to a request that asked for it and awaits its body."""
        waiting = self._parser.awaiting_continue
        if waiting is not None and waiting is not self._continued:
            self._continued = waiting
            self._queue(b"%s 100 Continue\r\n\r\n" % waiting.reply_version.encode())

    def _respond_to(self, request: Request) -> None:
        try:
            reply = self.factory.dispatcher.handle(request)
        except Exception:
            self.log.failure(
                "error answering {method} {target}", method=request.method, target=request.target
            )
            reply = self.factory.internal_error.answering(request.method)
        if type(reply) is not Reply:
            assert isinstance(reply, Deferred)
            self._waiting = True
            if not self._parser.idle:  # more has come: read no more until this is answered
                self.transport.pauseProducing()
            self._idle.forget(self)
            reply.addErrback(self._handler_failed, request)
            reply.addCallback(self._deferred_reply, request)
            return
        self._send(request, reply)

    def _handler_failed(self, failure: Failure, request: Request) -> Reply:
        self.log.failure(
            "error answering {method} {target}",
            failure,
            method=request.method,
            target=request.target,
        )
        return self.factory.internal_error.answering(request.method)

    def _deferred_reply(self, reply: Reply | StreamedReply, request: Request) -> None:
        if isinstance(reply, StreamedReply):
            self._stream(reply, request)
            return
        self._waiting = False
        if self._closing:
            return
        self._resume_reading()
        self._idle.touch(self)
        self._send(request, reply)
        self._process()

    def _stream(self, reply: StreamedReply, request: Request) -> None:
        """
        Send an answer whose body comes in pieces (the log as CSV), then carry on.

        Chunked for 1.1 (the connection can go on), else ended by closing.
        The body's writer is the transport's producer while it sends; each
        piece sent counts as activity, so a client that stops reading is
        cut off after the idle timeout.
        """
        version = request.reply_version
        chunked = version.endswith("/1.1")
        close = not (request.keep_alive and chunked)
        framing = (("Transfer-Encoding", "chunked"),) if chunked else ()
        self._queue(
            self.factory.responses.head(
                version,
                200,
                reply.content_type,
                reply.safe,
                None,
                reply.headers + framing,
                close,
            )
        )
        self._flush()
        self._idle.touch(self)
        self.transport.unregisterProducer()
        if request.method == "HEAD":
            self._streamed(None, close)
            return
        self._unlimited = 0
        _limit_kernel_send_buffer(self.transport)  # a long answer: as if already that much sent
        sending = reply.send(self.transport, chunked, lambda: self._idle.touch(self))
        sending.addBoth(self._streamed, close)

    def _streamed(self, result: Failure | None, close: bool) -> None:
        if isinstance(result, Failure) or self._closing:
            return
        self.transport.registerProducer(self, True)
        self._waiting = False
        if close:
            self._close()
            return
        self._resume_reading()
        self._idle.touch(self)
        self._process()

    def _send(self, request: Request, reply: Reply) -> None:
        close = not request.keep_alive or reply.status in (500, 501)
        self._queue(
            self.factory.responses.response(reply, request.reply_version, request.method, close)
        )
        if close:
            self._close()

    def _close(self) -> None:
        """
        Write what is pending, then close.

        The connection stops being a producer first: a transport whose
        producer is paused waits for it instead of closing.  A client that
        never reads what is pending would keep it open, so it is aborted
        if still open after the idle timeout.
        """
        self._closing = True
        self._idle.touch(self)
        self._flush()
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def _flush(self) -> None:
        """Write the responses made in this pass, in one go."""
        if self._output:
            output = self._output
            self._output = []
            if self._unlimited:
                self._unlimited = max(0, self._unlimited - self._output_bytes)
                if not self._unlimited:
                    _limit_kernel_send_buffer(self.transport)
            self._output_bytes = 0
            self.transport.writeSequence(output)

    def _queue(self, data: bytes) -> None:
        """
        Add to the answers made in this pass.

        Once they reach C{MAX_BUFFERED} bytes they are handed to the
        transport, which pauses this producer (so reading and answering)
        while it holds that much unsent.
        """
        self._output.append(data)
        self._output_bytes += len(data)

    def _refuse(self, error: ProtocolError) -> None:
        """Answer a request that cannot be read, then close."""
        if self._closing:
            return
        self._cancel_deadlines()
        self._flush()
        body = (error.detail + "\n").encode("utf-8")
        head = self.factory.responses.head(
            error.version, error.status, TEXT, None, len(body), close=True
        )
        self._queue(head + body)
        self._close()


def _limit_kernel_send_buffer(transport: object) -> None:
    """
    Keep the kernel's buffer of unsent answers small, as this server's are.

    Left to itself, the kernel grows a connection's send buffer to megabytes
    (loopback, Linux), and a client that never reads makes the server answer
    until that is full too.  With C{KERNEL_SEND_BUFFER}, such a client stops
    costing the server anything within a few answers' worth of bytes.  It
    is set once a connection has sent that much (the kernel cannot hold
    more than was sent), so the many connections that ask once and go cost
    no system call for it.  (TLS runs over a transport of its own: the
    socket is under it.)
    """
    for _ in range(3):
        handle = getattr(transport, "getHandle", lambda: None)()
        if isinstance(handle, socket.socket):
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)
            return
        transport = getattr(transport, "transport", None)
