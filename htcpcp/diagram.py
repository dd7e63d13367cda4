# -*- test-case-name: tests.test_diagram -*-
"""
Space-time diagrams of a capture, as the lab asks students to draw them:

    htcpcp diagram capture.pcapng -o capture.svg      (or .html)

One vertical lifeline per endpoint (browser, web front end, pot server,
with their ports), time running down; each TCP handshake segment (SYN,
SYN-ACK, ACK), FIN and RST, each HTTP or HTCPCP message (labelled with its
first line) and each TLS segment (labelled with its record types) is a
sloped arrow from sender to receiver with its time beside it
(L{htcpcp.diagram_drawing} draws it).

Servers are the endpoints that answered a SYN (or the C{--port}s given).
A server is the pot if HTCPCP is seen on it (or it is port 5030 or 5443),
else a web front end; when there are both, the pot's clients are drawn on
the web front end's lifeline (it is the pot's client), the web's clients
are the browser.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, TextIO

from htcpcp.diagram_drawing import Arrow, Diagram, render_html, render_svg
from htcpcp.pcap import ACK, FIN, RST, SYN, CaptureError, Segment, read_segments

__all__ = [
    "Arrow",
    "Diagram",
    "add_parser",
    "build_diagram",
    "message_label",
    "render_html",
    "render_svg",
    "run",
]

POT_PORTS: Final = frozenset({5030, 5443})
MAX_LABEL: Final = 64
_START_LINE: Final = re.compile(
    rb"^(?:[A-Z]{3,12} \S{1,2048} (?:HTTP|HTCPCP(?:-TEA)?)/\d\.\d"
    rb"|(?:HTTP|HTCPCP(?:-TEA)?)/\d\.\d \d{3}(?: [^\r\n]*)?)\r?$",
    re.MULTILINE,
)
_HTCPCP: Final = re.compile(rb"^(?:BREW|WHEN|PROPFIND) |coffee://|tea://|^HTCPCP", re.MULTILINE)
_TLS_TYPES: Final = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "Application Data"}
_HANDSHAKES: Final = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 11: "Certificate"}


def _tls_label(payload: bytes) -> str | None:
    """The record types starting in C{payload}, if it begins with a TLS record."""
    names: list[str] = []
    offset = 0
    while offset + 5 <= len(payload):
        kind, major, length = payload[offset], payload[offset + 1], payload[offset + 3 : offset + 5]
        if kind not in _TLS_TYPES or major != 3:
            break
        name = _TLS_TYPES[kind]
        if kind == 22 and offset + 5 < len(payload) and not names:
            name = _HANDSHAKES.get(payload[offset + 5], name)
        names.append(name)
        offset += 5 + int.from_bytes(length, "big")
    if not names:
        return None
    runs: list[list[object]] = []
    for name in names:
        if runs and runs[-1][0] == name:
            runs[-1][1] = int(str(runs[-1][1])) + 1
        else:
            runs.append([name, 1])
    return "TLS " + ", ".join(f"{n} x{c}" if c != 1 else str(n) for n, c in runs)


def message_label(payload: bytes) -> str | None:
    """The first HTTP/HTCPCP start line in C{payload}, saying how many more follow."""
    lines = [m.group(0).rstrip(b"\r").decode("latin-1") for m in _START_LINE.finditer(payload)]
    if not lines:
        return None
    first = lines[0] if len(lines[0]) <= MAX_LABEL else lines[0][: MAX_LABEL - 1] + "…"
    return first if len(lines) == 1 else f"{first} (+{len(lines) - 1} more)"


def _classify(segment: Segment, tls: bool) -> tuple[str, str] | None:
    flags = segment.flags
    if flags & RST:
        return "reset", "RST"
    if flags & SYN:
        return "handshake", "SYN, ACK" if flags & ACK else "SYN"
    if segment.payload:
        payload = segment.payload
        if tls:
            return "tls", _tls_label(payload) or f"TLS continued ({len(payload)} bytes)"
        label = message_label(payload)
        if label is None:
            return "data", f"… {len(payload)} bytes (continued)"
        return ("htcpcp" if _HTCPCP.search(payload) else "http"), label
    if flags & FIN:
        return "close", "FIN"
    return None


def _servers(segments: Sequence[Segment], ports: Iterable[int]) -> set[tuple[str, int]]:
    given = set(ports)
    if given:
        return {e for s in segments for e in (s.source, s.destination) if e[1] in given}
    answered = {s.destination for s in segments if s.flags & SYN and not s.flags & ACK}
    if answered:
        return answered
    return {min(s.source, s.destination, key=lambda e: e[1]) for s in segments}


def build_diagram(segments: Sequence[Segment], ports: Iterable[int] = ()) -> Diagram:
    """The space-time diagram of the TCP conversations in C{segments}."""
    servers = _servers(segments, ports)
    pots = {e for e in servers if e[1] in POT_PORTS}
    pots |= {
        s.destination for s in segments if s.destination in servers and _HTCPCP.search(s.payload)
    }
    webs = servers - pots
    names: dict[tuple[str, int], str] = {}
    for endpoint in sorted(webs, key=lambda e: e[1]):
        names[endpoint] = f"web front end :{endpoint[1]}" if pots else f"server :{endpoint[1]}"
    for endpoint in sorted(pots, key=lambda e: e[1]):
        names[endpoint] = f"pot server :{endpoint[1]}"
    web_line = next(iter(names[w] for w in sorted(webs, key=lambda e: e[1])), None)

    def lifeline(client: tuple[str, int], server: tuple[str, int]) -> str:
        if server in pots and web_line is not None:
            return web_line
        return "browser" if server in webs and pots else "client"

    tls_ports = {
        s.destination[1] for s in segments if s.payload[:1] == b"\x16" and s.payload[1:2] == b"\x03"
    }
    handshakes: set[tuple[tuple[str, int], tuple[str, int]]] = set()
    rows: list[tuple[Segment, str, str, str, str]] = []
    for segment in segments:
        if segment.destination in servers:
            client, server = segment.source, segment.destination
        elif segment.source in servers:
            client, server = segment.destination, segment.source
        else:
            continue
        classified = _classify(segment, server[1] in tls_ports)
        if classified is not None and classified[0] == "http" and server in pots:
            classified = ("htcpcp", classified[1])
        key = (client, server)
        if segment.flags & SYN and segment.flags & ACK:
            handshakes.add(key)
        elif classified is None and key in handshakes and segment.source == client:
            handshakes.discard(key)
            classified = ("handshake", "ACK")
        if classified is None:
            continue
        ends = (lifeline(client, server), names[server])
        sender, receiver = ends if segment.source == client else ends[::-1]
        rows.append((segment, sender, receiver, *classified))
    order = ["browser", "client", *names.values()]
    used = [n for n in dict.fromkeys(order) if any(n in (r[1], r[2]) for r in rows)]
    index = {name: number for number, name in enumerate(used)}
    arrows = tuple(
        Arrow(s.time, index[a], index[b], kind, label, (s.source[1], s.destination[1]), s.number)
        for s, a, b, kind, label in rows
    )
    start = segments[0].time if segments else 0.0
    return Diagram(tuple(used), arrows, start)


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the C{diagram} command to the C{htcpcp} command's subcommands."""
    parser = commands.add_parser(
        "diagram",
        help="draw the space-time diagram of a capture (SVG or HTML)",
        description="Draw the space-time diagram of a pcap or pcapng capture.",
        epilog="example:\n  htcpcp diagram lab.pcapng -o lab.html --port 5030 --port 5031",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("capture", help="a pcap or pcapng file (Wireshark, tshark, dumpcap)")
    parser.add_argument("-o", "--output", help="out.svg or out.html (default: CAPTURE.svg)")
    parser.add_argument(
        "--port", type=int, action="append", default=[], help="a server port to draw (repeatable)"
    )


def run(options: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run C{htcpcp diagram}: 0 when written, 1 for a capture it cannot read."""
    capture = Path(options.capture)
    output = Path(options.output) if options.output else capture.with_suffix(".svg")
    try:
        diagram = build_diagram(read_segments(capture), options.port)
    except CaptureError as error:
        err.write(f"htcpcp: {error}\n")
        return 1
    if not diagram.arrows:
        err.write(f"htcpcp: {capture} holds no TCP conversation to draw\n")
        return 1
    title = f"{capture.name}: space-time diagram"
    page = (
        render_html(diagram, title)
        if output.suffix.lower() in (".html", ".htm")
        else render_svg(diagram, title)
    )
    try:
        output.write_text(page, encoding="utf-8")
    except OSError as error:
        err.write(f"htcpcp: cannot write {output}: {error.strerror}\n")
        return 1
    out.write(f"{output}: {len(diagram.lifelines)} lifelines, {len(diagram.arrows)} arrows\n")
    return 0
