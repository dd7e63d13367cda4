"""Slow readers: ``python benchmarks/slow_readers.py --port PORT [--tls]``.

Part of the htcpcp benchmark harness (``run.py`` starts it as a process of its own). It opens
``--clients`` connections (over TLS with ``--tls``: full handshakes, certificate not checked);
each pipelines small GETs as fast as the server takes them and never reads an answer, so the
server's answers pile up until it stops reading. Its sockets have small buffers (``BUFFER``
bytes each way, set before connecting), as a client that wants to cost itself little would, so
the kernel's buffers fill soon. Every ``--interval`` seconds it tries to send more on every
connection.

It prints three JSON lines on standard output: once every connection is open, ``{"open": ...,
"errors": ..., "seconds": ...}``; once no connection has taken a byte for ``--quiet`` seconds
(the server has stopped reading them all), ``{"stalled": ..., "sent_bytes": ..., "seconds":
...}``; then, when standard input is closed or after ``--limit`` seconds, how many connections
the server closed and the bytes sent in all. Then it closes every connection.
"""

from __future__ import annotations

import argparse
import json
import resource
import select
import socket
import ssl
import sys
import time

REQUEST = b"GET /pot-0 HTTP/1.1\r\nHost: localhost\r\n\r\n"
BATCH = REQUEST * 256
"""What one send offers: 256 pipelined GETs."""
BUFFER = 4096
"""SO_RCVBUF and SO_SNDBUF of every connection."""


def raise_fd_limit(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``needed`` (at most to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def open_one(port: int, context: ssl.SSLContext | None) -> socket.socket:
    """A connection (its TLS handshake done), non-blocking."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    sock.setblocking(False)
    return sock


def push(sock: socket.socket) -> tuple[int, bool, bool]:
    """Send until refused; return the bytes sent, whether it was refused, whether it is closed."""
    sent = 0
    for _ in range(64):  # at most 64 batches a turn, so one connection cannot starve the rest
        try:
            sent += sock.send(BATCH)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return sent, True, False
        except OSError:
            return sent, True, True
    return sent, False, False


def main() -> None:
    """Open the connections, push until each is stalled, report, hold until told to stop."""
    parser = argparse.ArgumentParser(description="Clients that pipeline GETs and never read.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--quiet", type=float, default=1.0, help="seconds without progress")
    parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    raise_fd_limit(args.clients + 64)
    context = None
    if args.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    began = time.monotonic()
    socks, errors = [], 0
    for _ in range(args.clients):
        try:
            socks.append(open_one(args.port, context))
        except OSError:
            errors += 1
    print(
        json.dumps(
            {"open": len(socks), "errors": errors, "seconds": round(time.monotonic() - began, 3)}
        ),
        flush=True,
    )
    closed: set[int] = set()
    sent = 0
    reported = False
    progress_at = time.monotonic()
    deadline = began + args.limit
    while time.monotonic() < deadline:
        for index, sock in enumerate(socks):
            if index in closed:
                continue
            count, _, gone = push(sock)
            sent += count
            if count:
                progress_at = time.monotonic()
            if gone:
                closed.add(index)
        if not reported and time.monotonic() - progress_at >= args.quiet:
            stalled = {"stalled": len(socks) - len(closed), "sent_bytes": sent}
            print(
                json.dumps({**stalled, "seconds": round(time.monotonic() - began, 3)}), flush=True
            )
            reported = True
        if select.select([sys.stdin], [], [], args.interval)[0] and not sys.stdin.read(1):
            break
    print(json.dumps({"closed_by_server": len(closed), "sent_bytes": sent}), flush=True)
    for sock in socks:
        sock.close()


if __name__ == "__main__":
    main()
