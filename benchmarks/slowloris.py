"""Slow clients that trickle a request head: ``python benchmarks/slowloris.py --port PORT``.

Part of the htcpcp benchmark harness (``run.py`` starts it as a process of its own). It opens
``--clients`` connections, spread evenly over ``--ramp`` seconds; each sends
``GET /pot-0 HTTP/1.1`` at once and then one header line (``X-Slow-N: 1``) every ``--interval``
seconds, never the blank line that would end the head. It reads whatever the server answers and
stops when every connection is closed, or after ``--limit`` seconds.

It prints two JSON lines on standard output: once every connection is open,
``{"open": ..., "errors": ..., "seconds": ...}``; at the end, the status line of every answer with
its count, and the time from a connection's request line to the first byte of its answer (its
time to cut-off; minimum, median, maximum), how many connections were closed without an answer
and how many were still open at the limit.
"""

from __future__ import annotations

import argparse
import json
import resource
import selectors
import socket
import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field

REQUEST_LINE = b"GET /pot-0 HTTP/1.1\r\n"


@dataclass
class SlowClient:
    """One trickling connection."""

    sock: socket.socket
    started: float  # when its request line was sent
    headers_sent: int = 0
    answered_at: float | None = None
    closed: bool = False
    send_errors: int = 0
    received: list[bytes] = field(default_factory=list)


def raise_fd_limit(needed: int) -> None:
    """Raise the soft RLIMIT_NOFILE to ``needed`` (at most to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def open_clients(port: int, count: int, ramp: float) -> tuple[list[SlowClient], int]:
    """Open ``count`` connections evenly over ``ramp`` seconds, each sending the request line."""
    clients, errors = [], 0
    begin = time.monotonic()
    for index in range(count):
        delay = begin + ramp * index / count - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(REQUEST_LINE)
        except OSError:
            errors += 1
            continue
        sock.setblocking(False)
        clients.append(SlowClient(sock, time.monotonic()))
    return clients, errors


def trickle(clients: list[SlowClient], interval: float, limit: float) -> None:
    """Send each open client's next header line every ``interval`` s and read the answers."""
    selector = selectors.DefaultSelector()
    for client in clients:
        selector.register(client.sock, selectors.EVENT_READ, client)
    due: deque[tuple[float, SlowClient]] = deque(
        (client.started + interval, client) for client in clients
    )
    open_count = len(clients)
    deadline = time.monotonic() + limit
    while open_count and time.monotonic() < deadline:
        now = time.monotonic()
        while due and due[0][0] <= now:
            when, client = due.popleft()
            if client.closed or client.answered_at is not None:
                continue
            try:
                client.sock.send(b"X-Slow-%d: 1\r\n" % client.headers_sent)
                client.headers_sent += 1
            except OSError:
                client.send_errors += 1
            due.append((when + interval, client))
        timeout = max(0.0, min(due[0][0] if due else deadline, deadline) - time.monotonic())
        for key, _ in selector.select(timeout):
            client = key.data
            try:
                data = client.sock.recv(65536)
            except OSError:
                data = b""
            if data:
                if client.answered_at is None:
                    client.answered_at = time.monotonic()
                client.received.append(data)
                continue
            selector.unregister(client.sock)
            client.sock.close()
            client.closed = True
            open_count -= 1
    selector.close()


def summary(clients: list[SlowClient]) -> dict[str, object]:
    """What the server did with the slow clients."""
    statuses: Counter[str] = Counter()
    cut_off = []
    for client in clients:
        if client.answered_at is None:
            continue
        answer = b"".join(client.received)
        statuses[answer.split(b"\r\n", 1)[0].decode("latin-1")] += 1
        cut_off.append(client.answered_at - client.started)
    return {
        "statuses": dict(statuses),
        "cut_off_s": {
            "min": round(min(cut_off), 3),
            "p50": round(statistics.median(cut_off), 3),
            "max": round(max(cut_off), 3),
        }
        if cut_off
        else None,
        "headers_sent_max": max((c.headers_sent for c in clients), default=0),
        "send_errors": sum(c.send_errors for c in clients),
        "closed_without_answer": sum(c.closed and c.answered_at is None for c in clients),
        "still_open": sum(not c.closed for c in clients),
    }


def main() -> None:
    """Parse arguments, open the slow clients, trickle until they are closed, print JSON."""
    parser = argparse.ArgumentParser(description="Clients trickling a request head.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds to open them over")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between lines")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds to trickle at most")
    args = parser.parse_args()
    raise_fd_limit(args.clients + 64)
    began = time.monotonic()
    clients, errors = open_clients(args.port, args.clients, args.ramp)
    opened = {"open": len(clients), "errors": errors, "seconds": round(time.monotonic() - began, 3)}
    print(json.dumps(opened), flush=True)
    trickle(clients, args.interval, args.limit)
    print(json.dumps(summary(clients)), flush=True)
    for client in clients:
        if not client.closed:
            client.sock.close()


if __name__ == "__main__":
    main()
