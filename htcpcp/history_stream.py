# -*- test-case-name: tests.test_history_resource -*-
"""
Answers whose body is sent in pieces as it is read: the brew history as CSV.

A L{StreamedReply} says what the answer is (its media type and headers)
and where its pieces come from; the pot server's protocol writes the head
and hands the transport to L{StreamedReply.send}, which becomes the
transport's producer for the length of the body: it asks for the next
piece only while the transport wants more, so a million brews go out
without being held in memory.  With HTTP/1.1 or HTCPCP/1.1 the body is
chunked and the connection can carry on; with 1.0 the body ends where the
connection does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["Pieces", "StreamedReply"]

Pieces = Callable[[Any], Deferred[tuple[bytes, Any]]]
"""Given a cursor (C{None} first), the next piece of the body and the cursor after it
(C{None} after the last)."""

_LAST_CHUNK = b"0\r\n\r\n"


@dataclass(frozen=True)
class StreamedReply:
    """A 200 answer with a body of pieces: C{first}, then what C{pieces} gives."""

    content_type: str
    headers: tuple[tuple[str, str], ...]
    first: bytes
    pieces: Pieces
    start: Any = None

    def send(self, transport: Any, chunked: bool, progress: Callable[[], None]) -> Deferred[None]:
        """
        Write the body to C{transport} (whose producer it becomes meanwhile),
        calling C{progress} after each piece.

        Fires once the body is written, or fails if the connection is lost or
        a piece cannot be had; the connection is then aborted, since an
        answer cut short must not look whole.
        """
        return _Streamer(self, transport, chunked, progress).done


@implementer(IPushProducer)
class _Streamer:
    """Writes one streamed body, a piece at a time, pausing when the transport is full."""

    log = Logger()

    def __init__(
        self, reply: StreamedReply, transport: Any, chunked: bool, progress: Callable[[], None]
    ) -> None:
        self.done: Deferred[None] = Deferred()
        self._progress = progress
        self._reply = reply
        self._transport = transport
        self._chunked = chunked
        self._cursor = reply.start
        self._paused = self._fetching = self._finished = False
        transport.registerProducer(self, True)
        self._write(reply.first)
        self._fetch()

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self._chunked:
            self._transport.writeSequence([b"%x\r\n" % len(data), data, b"\r\n"])
        else:
            self._transport.write(data)

    def _fetch(self) -> None:
        if self._paused or self._fetching or self._finished:
            return
        self._fetching = True
        self._reply.pieces(self._cursor).addCallbacks(self._got, self._failed)

    def _got(self, piece: tuple[bytes, Any]) -> None:
        self._fetching = False
        if self._finished:
            return
        data, self._cursor = piece
        self._write(data)
        self._progress()
        if self._cursor is None:
            if self._chunked:
                self._transport.write(_LAST_CHUNK)
            self._finish(None)
        else:
            self._fetch()

    def _failed(self, failure: Failure) -> None:
        self._fetching = False
        if self._finished:
            return
        self.log.failure("could not read the next piece of a streamed answer", failure)
        self._transport.abortConnection()
        self._finish(failure)

    def _finish(self, result: Failure | None) -> None:
        self._finished = True
        self._transport.unregisterProducer()
        if result is None:
            self.done.callback(None)
        else:
            self.done.errback(result)

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        self._fetch()

    def stopProducing(self) -> None:
        if not self._finished:
            self._finished = True
            self.done.errback(Failure(ConnectionLost("the client went away mid-answer")))
