# -*- test-case-name: tests.test_diagram -*-
"""
Space-time diagrams of a capture, as the lab asks students to draw them:

    htcpcp diagram capture.pcapng -o capture.svg      (or .html)

One vertical lifeline per endpoint (browser, web front end, pot server,
with their ports), time running down; each TCP handshake segment (SYN,
SYN-ACK, ACK), FIN and RST, each HTTP or HTCPCP message (labelled with its
first line) and each TLS segment (labelled with its record types) is a
sloped arrow from sender to receiver with its time beside it.  Rows are
evenly spaced so that 200 messages stay readable; a pause of more than
half a second is drawn as a break saying how long it was.

Servers are the endpoints that answered a SYN (or the C{--port}s given).
A server is the pot if HTCPCP is seen on it (or it is port 5030 or 5443),
else a web front end; when there are both, the pot's clients are drawn on
the web front end's lifeline (it is the pot's client), the web's clients
are the browser.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from htcpcp.pcap import ACK, FIN, RST, SYN, CaptureError, Segment, read_segments

__all__ = ["Arrow", "Diagram", "add_parser", "build_diagram", "render_html", "render_svg", "run"]

POT_PORTS: Final = frozenset({5030, 5443})
BREAK_SECONDS: Final = 0.5
MAX_LABEL: Final = 64
_START_LINE: Final = re.compile(
    rb"^(?:[A-Z]{3,12} \S{1,2048} (?:HTTP|HTCPCP(?:-TEA)?)/\d\.\d"
    rb"|(?:HTTP|HTCPCP(?:-TEA)?)/\d\.\d \d{3}(?: [^\r\n]*)?)\r?$",
    re.MULTILINE,
)
_HTCPCP: Final = re.compile(rb"^(?:BREW|WHEN|PROPFIND) |coffee://|tea://|^HTCPCP", re.MULTILINE)
_TLS_TYPES: Final = {20: "ChangeCipherSpec", 21: "Alert", 22: "Handshake", 23: "Application Data"}
_HANDSHAKES: Final = {1: "ClientHello", 2: "ServerHello", 4: "NewSessionTicket", 11: "Certificate"}


@dataclass(frozen=True)
class Arrow:
    """
    One arrow of the diagram.

    @ivar kind: C{handshake}, C{close} (FIN), C{reset} (RST), C{http},
        C{htcpcp}, C{tls} or C{data} (a segment continuing a message).
    @ivar label: what it says: C{SYN}, C{GET / HTTP/1.1}, C{TLS ClientHello}, ...
    """

    time: float
    source: int
    destination: int
    kind: str
    label: str
    ports: tuple[int, int]
    frame: int


@dataclass(frozen=True)
class Diagram:
    """Lifelines (names, left to right) and arrows, in time order."""

    lifelines: tuple[str, ...]
    arrows: tuple[Arrow, ...]
    start: float


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


def _message_label(payload: bytes) -> str | None:
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
        label = _message_label(payload)
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


_COLOURS: Final = {
    "handshake": "#6b7280",
    "close": "#b45309",
    "reset": "#dc2626",
    "http": "#2563eb",
    "htcpcp": "#7c2d12",
    "tls": "#7c3aed",
    "data": "#9ca3af",
}
_LEGEND: Final = (
    ("handshake", "TCP handshake (SYN, SYN-ACK, ACK)"),
    ("close", "TCP close (FIN)"),
    ("reset", "TCP reset (RST)"),
    ("http", "HTTP message (first line)"),
    ("htcpcp", "HTCPCP message (first line)"),
    ("tls", "TLS records (encrypted)"),
    ("data", "rest of a message"),
)
ROW: Final = 30
COLUMN: Final = 360
LEFT: Final = 110
TOP: Final = 150
SLOPE: Final = 20


def _text(x: float, y: float, words: str, css: str, anchor: str = "middle") -> str:
    escaped = html.escape(words)
    return f'<text x="{x:.0f}" y="{y:.0f}" class="{css}" text-anchor="{anchor}">{escaped}</text>'


def render_svg(diagram: Diagram, title: str = "") -> str:
    """The diagram as a standalone SVG document."""
    columns = max(len(diagram.lifelines), 2)
    width = LEFT + COLUMN * columns
    parts: list[str] = []
    y = TOP
    previous = diagram.start
    placed: list[tuple[Arrow, float]] = []
    breaks: list[tuple[float, float]] = []
    for arrow in diagram.arrows:
        gap = arrow.time - previous
        if placed and gap > BREAK_SECONDS:
            breaks.append((y, gap))
            y += ROW
        placed.append((arrow, y))
        previous = arrow.time
        y += ROW
    height = y + SLOPE + 40

    def x_of(column: int) -> float:
        return LEFT + COLUMN * column + COLUMN / 2

    parts.append(_text(12, 28, title or "space-time diagram", "title", "start"))
    for number, (kind, words) in enumerate(_LEGEND):
        lx, ly = 12 + (number % 4) * 290, 52 + (number // 4) * 20
        parts.append(
            f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 28}" y2="{ly - 4}" class="{kind}" '
            f'marker-end="url(#head-{kind})"/>'
        )
        parts.append(_text(lx + 36, ly, words, "legend", "start"))
    parts.append(_text(12, TOP - 30, "time (s)", "head", "start"))
    for column, name in enumerate(diagram.lifelines):
        x = x_of(column)
        parts.append(_text(x, TOP - 30, name, "head"))
        parts.append(
            f'<line x1="{x:.0f}" y1="{TOP - 20}" x2="{x:.0f}" y2="{height - 30}" class="life"/>'
        )
    for y_break, gap in breaks:
        parts.append(
            f'<rect x="{LEFT}" y="{y_break + 4}" width="{width - LEFT}" height="{ROW - 8}"'
            ' class="gap"/>'
        )
        parts.append(_text(width / 2, y_break + ROW / 2 + 5, f"… {gap:.2f} s later …", "gaptext"))
    for arrow, y_row in placed:
        x1, x2 = x_of(arrow.source), x_of(arrow.destination)
        rightwards = x2 > x1
        end1 = x1 + (6 if rightwards else -6)
        end2 = x2 - (8 if rightwards else -8)
        parts.append(
            f'<line x1="{end1:.0f}" y1="{y_row:.0f}" x2="{end2:.0f}" y2="{y_row + SLOPE:.0f}" '
            f'class="{arrow.kind}" marker-end="url(#head-{arrow.kind})">'
            f"<title>frame {arrow.frame}, {arrow.ports[0]} → {arrow.ports[1]}</title></line>"
        )
        middle = (x1 + x2) / 2
        parts.append(_text(middle, y_row + SLOPE / 2 - 5, arrow.label, f"label {arrow.kind}-text"))
        ports = f"{arrow.ports[0]} → {arrow.ports[1]}"
        parts.append(
            _text(
                x1 + (-10 if rightwards else 10),
                y_row + 4,
                ports,
                "ports",
                "end" if rightwards else "start",
            )
        )
        parts.append(
            _text(LEFT - 10, y_row + 4, f"{arrow.time - diagram.start:.4f}", "time", "end")
        )
    markers = "".join(
        f'<marker id="head-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
        for kind, colour in _COLOURS.items()
    )
    strokes = "".join(
        f".{k}{{stroke:{c};stroke-width:1.6}}.{k}-text{{fill:{c}}}" for k, c in _COLOURS.items()
    )
    style = (
        "text{font-family:ui-sans-serif,system-ui,sans-serif}"
        ".title{font-size:18px;font-weight:600}.legend{font-size:12px}"
        ".head{font-size:14px;font-weight:600}.life{stroke:#111827;stroke-dasharray:4 3}"
        ".label{font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:3px}"
        ".ports{font-size:10px;fill:#6b7280}.time{font-size:11px;fill:#374151;"
        "font-family:ui-monospace,monospace}.gap{fill:#f3f4f6}.gaptext{font-size:11px;fill:#6b7280}"
        ".handshake{stroke-dasharray:5 3}" + strokes
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'viewBox="0 0 {width} {height:.0f}"><defs>{markers}</defs><style>{style}</style>'
        f'<rect width="100%" height="100%" fill="#fff"/>{"".join(parts)}</svg>\n'
    )


def render_html(diagram: Diagram, title: str) -> str:
    """The diagram in an HTML page (the SVG inline, with a summary)."""
    counts = {kind: sum(a.kind == kind for a in diagram.arrows) for kind, _ in _LEGEND}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>body{{margin:1rem;font-family:system-ui,"
        "sans-serif}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(diagram.arrows)} arrows: {html.escape(summary)}.</p>"
        f"{render_svg(diagram, title)}</body></html>\n"
    )


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
