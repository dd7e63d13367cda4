"""Live pages: ``python benchmarks/live_clients.py --port PORT [--pages N]``.

Part of the htcpcp benchmark harness (``run.py`` starts it as a process of its own). It opens
``--pages`` server-sent event streams (``GET /events``) on the web front end, as that many open
browser pages would, and reads them all. Once every stream has had its first event (the pots'
status) it prints ``{"open": ..., "ready": ..., "errors": ..., "seconds": ...}``. Then, when a line
arrives on standard input (the harness is about to change a pot), it times how long each stream
takes to carry its next event, and prints how many did within ``--within`` seconds, the median
and the slowest. It exits when standard input is closed.
"""

from __future__ import annotations

import argparse
import json
import resource
import selectors
import socket
import statistics
import sys
import time

EVENT_END = b"\n\n"


def raise_fd_limit(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``needed`` (at most to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Streams:
    """The open streams and the events each has carried."""

    def __init__(self, port: int, pages: int) -> None:
        self.selector = selectors.DefaultSelector()
        self.events = [0] * pages  # data events seen per stream
        self.pending = [b""] * pages
        self.seen_at: list[float | None] = [None] * pages
        self.closed = 0
        self.gone = [False] * pages  # closed by the server (or never opened)
        self.errors = 0
        request = (
            b"GET /events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n"
            % port
        )
        for index in range(pages):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(request)
            except OSError:
                self.errors += 1
                self.gone[index] = True
                continue
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, index)

    def read(self, timeout: float, since: float | None = None) -> None:
        """Read what has arrived; with ``since``, note when each stream's next event came."""
        for key, _ in self.selector.select(timeout):
            index = key.data
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if not data:
                self.selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
                self.closed += 1
                self.gone[index] = True
                continue
            text = self.pending[index] + data
            *whole, self.pending[index] = text.split(EVENT_END)
            fresh = sum(1 for event in whole if b"data:" in event)
            self.events[index] += fresh
            if fresh and since is not None and self.seen_at[index] is None:
                self.seen_at[index] = time.monotonic() - since


def main() -> None:
    """Open the streams, report them ready, time one change, wait for the end."""
    parser = argparse.ArgumentParser(description="Open server-sent event streams.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--within", type=float, default=1.0)
    parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    raise_fd_limit(args.pages + 64)
    began = time.monotonic()
    streams = Streams(args.port, args.pages)
    deadline = began + args.limit

    def waiting() -> bool:
        return any(not n and not gone for n, gone in zip(streams.events, streams.gone, strict=True))

    while waiting() and time.monotonic() < deadline:
        streams.read(0.1)
    ready = sum(1 for count in streams.events if count)
    opened = {"open": args.pages - streams.errors, "ready": ready, "errors": streams.errors}
    print(json.dumps({**opened, "seconds": round(time.monotonic() - began, 3)}), flush=True)
    selectors_stdin = selectors.DefaultSelector()
    selectors_stdin.register(sys.stdin, selectors.EVENT_READ)
    while not selectors_stdin.select(0):
        streams.read(0.05)
    if sys.stdin.readline():
        mark = time.monotonic()
        open_now = [i for i, gone in enumerate(streams.gone) if not gone]
        while time.monotonic() - mark < args.within * 3 and any(
            streams.seen_at[i] is None and not streams.gone[i] for i in open_now
        ):
            streams.read(0.05, since=mark)
        times = [t for t in streams.seen_at if t is not None]
        result = {
            "changed": len(times),
            "within": sum(1 for t in times if t <= args.within),
            "p50_ms": round(statistics.median(times) * 1000, 1) if times else None,
            "max_ms": round(max(times) * 1000, 1) if times else None,
            "closed": streams.closed,
        }
        print(json.dumps(result), flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    main()
