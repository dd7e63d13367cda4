# -*- test-case-name: tests.test_web_live -*-
"""
Live pot status for browsers, as server-sent events.

One L{LiveFeed} serves every browser: while at least one is connected, it
takes the gateway's snapshot when the last one is due (at a pot's next
change, after a heartbeat, or at once after the front end changed a pot)
and writes it to every stream, so the pot is asked as often as its state
needs however many browsers watch, and not at all while none does.
Unchanged snapshots are not sent again; a comment line
every C{heartbeat} seconds keeps idle streams (and proxies) awake.  A new
stream starts with the current snapshot (from the gateway's cache, which a
change empties), and a snapshot begun before the front end changed a pot is
never sent: a browser never sees a pot go back to an older state.

Klein finishes a request as soon as its handler returns (C{NOT_DONE_YET}
does not stream), so L{LiveFeed.stream} returns a Deferred that fires when
the stream should end: on L{LiveFeed.close}, or never while the browser
stays.  When the browser goes, Klein cancels that Deferred and the request's
C{notifyFinish} removes the stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.iweb import IRequest

from htcpcp.web.pots.gateway import PotGateway
from htcpcp.web.pots.model import Snapshot

__all__ = ["LiveFeed"]

RETRY_MILLISECONDS: Final = 3000
log = Logger()


class LiveFeed:
    """
    Server-sent event streams of the pots' status.

    @param render: turns a snapshot into the JSON-able document sent.
    @param limit: the most streams at once; more are refused with 503.
    """

    def __init__(
        self,
        gateway: PotGateway,
        clock: IReactorTime,
        render: Callable[[Snapshot], Any],
        *,
        heartbeat: float = 15.0,
        limit: int = 1000,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._render = render
        self._heartbeat = heartbeat
        self._limit = limit
        self._streams: dict[IRequest, Deferred[None]] = {}
        self._last: bytes | None = None
        self._sent_at = 0.0
        self._next: IDelayedCall | None = None
        self._taking = False
        gateway.on_change(self._soon)

    def __len__(self) -> int:
        return len(self._streams)

    def stream(self, request: IRequest) -> Deferred[None] | bytes:
        """Start an event stream on C{request}; fires when it ends."""
        if len(self._streams) >= self._limit:
            request.setResponseCode(503)
            request.setHeader(b"Retry-After", b"30")
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"Too many live connections; the page still works without them.\n"
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-cache")
        request.setHeader(b"X-Accel-Buffering", b"no")
        if request.method == b"HEAD":
            return b""
        ended: Deferred[None] = Deferred()
        self._streams[request] = ended
        cast(http.Request, request).notifyFinish().addBoth(self._forget, request)
        request.write(b"retry: %d\n\n" % RETRY_MILLISECONDS)
        if len(self._streams) == 1:
            self._last = None
        welcome = self._gateway.snapshot().addCallback(self._welcome, request)
        welcome.addErrback(self._loop_failed)
        return ended

    def close(self) -> None:
        """End every stream and stop the loop."""
        streams, self._streams = self._streams, {}
        self._cancel()
        for ended in streams.values():
            if not ended.called:
                ended.callback(None)

    def _forget(self, result: object, request: IRequest) -> None:
        self._streams.pop(request, None)
        if not self._streams:
            self._cancel()

    def _cancel(self) -> None:
        if self._next is not None and self._next.active():
            self._next.cancel()
        self._next = None

    def _soon(self) -> None:
        """The front end changed a pot: look again at once, if anyone watches."""
        if self._streams and not self._taking:
            self._cancel()
            self._next = self._clock.callLater(0, self._tick)

    def _schedule(self, snapshot: Snapshot) -> None:
        """Look again when C{snapshot} is due, while anyone watches."""
        if not self._streams or self._taking:
            return
        self._cancel()
        wait = max(0.0, snapshot.due - self._clock.seconds())
        self._next = self._clock.callLater(wait, self._tick)

    def _event(self, snapshot: Snapshot) -> bytes:
        return b"data: " + json.dumps(self._render(snapshot)).encode("utf-8") + b"\n\n"

    def _welcome(self, snapshot: Snapshot, request: IRequest) -> None:
        if request in self._streams and snapshot.generation == self._gateway.generation:
            event = self._event(snapshot)
            request.write(event)
            if self._last is None:
                self._last, self._sent_at = event, self._clock.seconds()
        if self._next is None:
            self._schedule(snapshot)

    def _tick(self) -> None:
        self._next = None
        self._taking = True
        taking = self._gateway.snapshot().addCallback(self._publish)
        taking.addErrback(self._loop_failed)

    def _publish(self, snapshot: Snapshot) -> None:
        self._taking = False
        if snapshot.generation != self._gateway.generation:
            self._soon()
            return
        self._schedule(snapshot)
        event = self._event(snapshot)
        now = self._clock.seconds()
        if event != self._last:
            self._last = event
        elif now - self._sent_at >= self._heartbeat:
            event = b": still here\n\n"
        else:
            return
        self._sent_at = now
        for request in list(self._streams):
            request.write(event)

    def _loop_failed(self, failure: Failure) -> None:
        log.failure("the live status loop failed", failure)
        self.close()
