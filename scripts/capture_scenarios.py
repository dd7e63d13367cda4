# -*- test-case-name: tests.test_dissector -*-
"""
The scenarios ``scripts/record_captures.py`` records, each driving the pot server with sockets.

Every ``send()`` is written with TCP_NODELAY and followed by a short pause, so each piece
leaves as its own TCP segment: a request split over five segments really is five segments on
the wire.
"""

from __future__ import annotations

import itertools
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEGMENT_GAP = 0.05  # pause after each write so that it leaves as its own TCP segment
BREW_TIME = 1.0


@dataclass
class Ports:
    pot: int
    tls: int
    web: int | None
    tls_keylog: Path


class Connection:
    """A client connection whose every send() is one TCP segment."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self.buffer = b""

    def send(self, *pieces: bytes) -> None:
        for piece in pieces:
            self.sock.sendall(piece)
            time.sleep(SEGMENT_GAP)

    def read_until_closed(self) -> bytes:
        chunks = [self.buffer]
        while data := self.sock.recv(65536):
            chunks.append(data)
        self.buffer = b""
        return b"".join(chunks)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection mid-response")
        self.buffer += data

    def response(self, head: bool = False) -> tuple[int, bytes]:
        """Read one response (our server always sends Content-Length); return code, bytes."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head_end = self.buffer.index(b"\r\n\r\n") + 4
        header = self.buffer[:head_end].decode("latin-1")
        code = int(header.split(" ", 2)[1])
        match = re.search(r"(?im)^content-length:\s*(\d+)\s*$", header)
        length = 0 if head or match is None else int(match.group(1))
        while len(self.buffer) < head_end + length:
            self._fill()
        message = self.buffer[: head_end + length]
        self.buffer = self.buffer[head_end + length :]
        return code, message

    def expect(self, *codes: int, head: bool = False) -> None:
        for code in codes:
            got, message = self.response(head=head)
            if got != code:
                raise RuntimeError(f"expected {code}, got {got}: {message[:200]!r}")

    def close(self) -> None:
        self.sock.close()


def request(
    method: str,
    target: str,
    *,
    version: str = "HTCPCP/1.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    lines = [f"{method} {target} {version}"]
    all_headers = dict(headers or {})
    if body is not None:
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


COFFEE = {"Content-Type": "message/coffeepot"}
TEA = {"Content-Type": "message/teapot"}
TEA_VERSION = "HTCPCP-TEA/1.0"


# --- scenarios ----------------------------------------------------------------------------


def brew_milk_when(ports: Ports) -> None:
    """BREW with milk (Cream) and Whisky, watch the pot, then say WHEN to stop the milk."""
    conn = Connection(ports.pot)
    additions = {**COFFEE, "Accept-Additions": "Cream;q=0.5, Whisky"}
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=additions, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "coffee://ducky/pot-0"))
    conn.expect(200)
    time.sleep(BREW_TIME + 0.5)  # brewing ends, the milk starts pouring
    conn.send(request("GET", "coffee://ducky/pot-0"))
    conn.expect(200)
    conn.send(request("WHEN", "coffee://ducky/pot-0", body=b""))
    conn.expect(200)
    conn.send(request("PROPFIND", "coffee://ducky/pot-0", headers={"Connection": "close"}))
    conn.expect(200)
    conn.close()


def refusals_418_406(ports: Ports) -> None:
    """Coffee asked of the teapot (418) and an addition the pot lacks (406)."""
    conn = Connection(ports.pot)
    conn.send(request("BREW", "coffee://ducky/pot-1", headers=COFFEE, body=b"start"))
    conn.expect(418)
    tea_please = {**COFFEE, "Accept-Additions": "tea"}
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=tea_please, body=b"start"))
    conn.expect(406)
    # HEAD responses carry the Content-Length of the body they leave out.
    conn.send(request("HEAD", "coffee://ducky/pot-0", headers={"Accept-Additions": "Cheese"}))
    conn.expect(406, head=True)
    conn.send(request("HEAD", "coffee://ducky/pot-0"))
    conn.expect(200, head=True)
    conn.close()
    # The lab's client: HTTP/1.1, the pot chosen by Use-Pot, no Content-Length.
    lab = Connection(ports.pot)
    lab.send(
        b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
        b"Use-Pot: tea\r\n\r\nstart"
    )
    lab.expect(418)
    lab.close()


def tea_300_alternates(ports: Ports) -> None:
    """RFC 7168: BREW tea without a variety (300 + Alternates), then brew a variety."""
    conn = Connection(ports.pot)
    conn.send(request("BREW", "tea://ducky/pot-1", version=TEA_VERSION, headers=TEA, body=b"start"))
    conn.expect(300)
    conn.close()  # the server closes after a 300
    # HTCPCP-TEA/1.0 is a 1.0 version: the connection persists only with keep-alive.
    conn = Connection(ports.pot)
    keep = {"Connection": "keep-alive"}
    milk = {**TEA, **keep, "Accept-Additions": "Whole-milk;q=0.8, Sugar"}
    darjeeling = "tea://ducky/pot-1/darjeeling"
    conn.send(request("BREW", darjeeling, version=TEA_VERSION, headers=milk, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "/pot-1/darjeeling", version=TEA_VERSION, headers=keep))
    conn.expect(200)
    conn.send(request("BREW", "/pot-1/darjeeling", version=TEA_VERSION, headers=TEA, body=b"stop"))
    conn.expect(200)
    conn.close()


def pipelined(ports: Ports) -> None:
    """Three requests in one segment; the server answers them in order."""
    conn = Connection(ports.pot)
    conn.send(
        request("GET", "coffee://ducky/pot-0")
        + request("PROPFIND", "%E5%92%96%E5%95%A1://ducky/pot-0")
        + request("GET", "koffie://ducky/pot-1", headers={"Connection": "close"})
    )
    conn.expect(200, 200, 200)
    conn.close()


def split_and_chunked(ports: Ports) -> None:
    """Awkward framing: five segments, a body in a later segment, a chunked body."""
    conn = Connection(ports.pot)
    whole = request(
        "BREW",
        "coffee://ducky/pot-0",
        headers={**COFFEE, "Accept-Additions": "Whisky"},
        body=b"start",
    )
    cuts = [0, 14, 40, 71, len(whole) - 3, len(whole)]
    conn.send(*(whole[a:b] for a, b in itertools.pairwise(cuts)))
    conn.expect(200)
    # Content-Length body in the next segment.
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=COFFEE, body=b"stop")[:-4], b"stop")
    conn.expect(200)
    # Chunked body, the chunks in two segments.
    conn.send(
        request("BREW", "coffee://ducky/pot-0", headers={**COFFEE, "Transfer-Encoding": "chunked"})
        + b"3\r\nsta\r\n",
        b"2\r\nrt\r\n0\r\n\r\n",
    )
    conn.expect(200)
    conn.close()
    # The lab's client: no Content-Length, the body alone in a later segment.
    lab = Connection(ports.pot)
    lab.send(
        b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
        b"Use-Pot: ducky\r\n\r\n",
        b"stop",
    )
    lab.expect(200)
    lab.close()


def tls(ports: Ports) -> None:
    """The same kind of exchange over TLS: nothing readable on the wire."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
    context.keylog_filename = str(ports.tls_keylog)
    conn = Connection(ports.tls, tls=context)
    conn.send(request("BREW", "coffee://localhost/pot-0", headers=COFFEE, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "coffee://localhost/pot-0", headers={"Connection": "close"}))
    conn.expect(200)
    conn.close()


def web(ports: Ports) -> None:
    """A browser-like visit to the web front end, which talks HTCPCP to the pot."""
    assert ports.web is not None
    conn = Connection(ports.web)
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    page = conn.read_until_closed()
    if not page.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the web front end answered {page[:200]!r}")
    conn.close()


@dataclass
class Scenario:
    name: str
    run: Callable[[Ports], None]
    filter: Callable[[Ports], str]
    with_keys: bool = False  # also write <name>_with_keys.pcapng with the TLS secrets


def pot_filter(ports: Ports) -> str:
    return f"tcp port {ports.pot}"


SCENARIOS = [
    Scenario("brew_milk_when", brew_milk_when, pot_filter),
    Scenario("refusals_418_406", refusals_418_406, pot_filter),
    Scenario("tea_300_alternates", tea_300_alternates, pot_filter),
    Scenario("pipelined", pipelined, pot_filter),
    Scenario("split_and_chunked", split_and_chunked, pot_filter),
    Scenario("tls", tls, lambda ports: f"tcp port {ports.tls}", with_keys=True),
    Scenario("web", web, lambda ports: f"tcp port {ports.web} or tcp port {ports.pot}"),
]
