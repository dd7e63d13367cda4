"""A TLS load generator, one request per connection: ``python benchmarks/tls_load.py --port PORT``.

Part of the htcpcp benchmark harness (``run.py`` starts it pinned to the load generator's core).
It keeps ``--connections`` connections in flight; each connects, makes a TLS handshake (the
certificate is not checked: the client's work is kept small), sends one GET, reads the whole
answer (framed by ``Content-Length``) and closes, and then a new connection starts. With
``--resume``, every handshake offers the session (ticket) of the last connection that finished, so
the server can resume it instead of a full handshake. The handshakes are OpenSSL's (Python's
``ssl``), the loop is ``selectors``; its own CPU use is reported so that a saturated client shows.

It prints one JSON line: connections completed per second in the measured window, the latency of a
connection (from ``connect()`` to the last byte of its answer: p50, p99), how many handshakes the
server resumed, errors, non-2xx answers and the fraction of a core it used.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import resource
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field

REQUEST = b"GET /pot-0 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
LENGTH = re.compile(rb"(?im)^content-length:\s*(\d+)")


@dataclass
class Attempt:
    """One connection: its socket, its phase and what it has read."""

    sock: socket.socket
    fd: int  # the descriptor the selector knows (the TLS socket takes the socket over)
    started: float
    phase: str = "connect"  # connect, handshake, send, read
    data: bytearray = field(default_factory=bytearray)
    tls: ssl.SSLSocket | None = None


@dataclass
class Tally:
    """What the measured window saw."""

    latencies: list[float] = field(default_factory=list)
    resumed: int = 0
    errors: int = 0
    non2xx: int = 0


class Driver:
    """Keeps the connections in flight and counts what completes after the warm-up."""

    def __init__(self, port: int, resume: bool, measure_from: float) -> None:
        self.port = port
        self.resume = resume
        self.measure_from = measure_from
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.session: ssl.SSLSession | None = None
        self.selector = selectors.DefaultSelector()
        self.tally = Tally()

    def open(self) -> None:
        """Start a new connection."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        attempt = Attempt(sock, sock.fileno(), time.monotonic())
        if sock.connect_ex(("127.0.0.1", self.port)) not in (0, errno.EINPROGRESS):
            self.fail(attempt)
            return
        self.selector.register(attempt.fd, selectors.EVENT_WRITE, attempt)

    def fail(self, attempt: Attempt) -> None:
        """Count an error and start over."""
        if time.monotonic() >= self.measure_from:
            self.tally.errors += 1
        self.finish(attempt)

    def finish(self, attempt: Attempt) -> None:
        """Close the connection and start the next one."""
        if attempt.fd in self.selector.get_map():
            self.selector.unregister(attempt.fd)
        (attempt.tls or attempt.sock).close()
        self.open()

    def step(self, attempt: Attempt) -> None:
        """Advance a connection as far as its socket allows."""
        try:
            if attempt.phase == "connect":
                if attempt.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    self.fail(attempt)
                    return
                session = self.session if self.resume else None
                attempt.tls = self.context.wrap_socket(
                    attempt.sock, do_handshake_on_connect=False, session=session
                )
                self.selector.modify(attempt.fd, selectors.EVENT_READ, attempt)
                attempt.phase = "handshake"
            assert attempt.tls is not None
            if attempt.phase == "handshake":
                attempt.tls.do_handshake()
                attempt.phase = "send"
            if attempt.phase == "send":
                attempt.tls.sendall(REQUEST)
                attempt.phase = "read"
            while True:
                chunk = attempt.tls.recv(65536)
                if not chunk:
                    self.fail(attempt)
                    return
                attempt.data += chunk
                if self.complete(attempt):
                    return
        except ssl.SSLWantReadError:
            self.selector.modify(attempt.fd, selectors.EVENT_READ, attempt)
        except ssl.SSLWantWriteError:
            self.selector.modify(attempt.fd, selectors.EVENT_WRITE, attempt)
        except OSError:
            self.fail(attempt)

    def complete(self, attempt: Attempt) -> bool:
        """Whether the answer is whole; if so, count it and finish the connection."""
        head, found, body = bytes(attempt.data).partition(b"\r\n\r\n")
        length = LENGTH.search(head) if found else None
        if length is None or len(body) < int(length[1]):
            return False
        assert attempt.tls is not None
        now = time.monotonic()
        if now >= self.measure_from:
            self.tally.latencies.append(now - attempt.started)
            self.tally.resumed += attempt.tls.session_reused
            if head.split(b" ", 2)[1][:1] != b"2":
                self.tally.non2xx += 1
        self.session = attempt.tls.session
        self.finish(attempt)
        return True

    def run(self, connections: int, until: float) -> None:
        """Keep ``connections`` in flight until ``until``."""
        for _ in range(connections):
            self.open()
        while time.monotonic() < until:
            for key, _ in self.selector.select(max(0.0, until - time.monotonic())):
                self.step(key.data)


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of the sorted ``values`` lie (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(description="TLS connections, one GET each.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--resume", action="store_true", help="offer the last session's ticket")
    args = parser.parse_args()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.monotonic()
    driver = Driver(args.port, args.resume, began + args.warmup)
    driver.run(args.connections, began + args.warmup + args.seconds)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    tally = driver.tally
    print(
        json.dumps(
            {
                "connections": args.connections,
                "resume": args.resume,
                "requests": len(tally.latencies),
                "rps": round(len(tally.latencies) / args.seconds, 1),
                "p50_us": round(percentile(tally.latencies, 0.5) * 1e6, 1),
                "p99_us": round(percentile(tally.latencies, 0.99) * 1e6, 1),
                "resumed": tally.resumed,
                "errors": tally.errors,
                "non2xx": tally.non2xx,
                "cpu": round(cpu / (time.monotonic() - began), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
