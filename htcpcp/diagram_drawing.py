# -*- test-case-name: tests.test_diagram -*-
"""
Drawing a space-time diagram: its values (L{Arrow}, L{Diagram}) and its SVG.

L{draw} lays the diagram out as a tree of L{Element}s, once, for both of
its uses: L{render_svg} writes it as a standalone SVG document (with its
own stylesheet and white paper, for C{htcpcp diagram}), and the web's
Inspector page puts the same tree inline in its HTML (C{standalone=False}:
no C{<style>} and no colours of its own, which the page's
Content-Security-Policy would refuse and its dark theme would clash with;
the page's stylesheet colours the classes, all prefixed C{sd-}).

Rows are evenly spaced whatever the times, so 200 messages stay readable;
a pause of more than half a second is drawn as a break saying how long.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["Arrow", "Diagram", "Element", "draw", "render_html", "render_svg"]

BREAK_SECONDS: Final = 0.5
ROW: Final = 30
COLUMN: Final = 360
LEFT: Final = 110
SLOPE: Final = 20
LEGEND_TOP: Final = 52
LEGEND_ROW: Final = 20
LEGEND_PER_ROW: Final = 4


@dataclass(frozen=True)
class Arrow:
    """
    One arrow of the diagram.

    @ivar kind: C{handshake}, C{close} (FIN), C{reset} (RST), C{http},
        C{htcpcp}, C{tls} or C{data} (a segment continuing a message).
    @ivar label: what it says: C{SYN}, C{GET / HTTP/1.1}, C{TLS ClientHello}, ...
    @ivar frame: the number of the frame (or exchange) it was drawn from.
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
    """
    Lifelines (names, left to right) and arrows, in time order.

    @ivar start: the time the arrows' times are counted from.
    @ivar unit: what an arrow's C{frame} numbers (C{frame}, C{exchange}).
    """

    lifelines: tuple[str, ...]
    arrows: tuple[Arrow, ...]
    start: float
    unit: str = "frame"


@dataclass(frozen=True)
class Element:
    """One SVG element: its name, attributes, text and children, in order."""

    name: str
    attributes: tuple[tuple[str, str], ...] = ()
    text: str = ""
    children: tuple[Element, ...] = ()

    def serialize(self) -> str:
        """The element as SVG markup."""
        attributes = "".join(f' {k}="{html.escape(v)}"' for k, v in self.attributes)
        inside = html.escape(self.text, quote=False) + "".join(c.serialize() for c in self.children)
        if not inside:
            return f"<{self.name}{attributes}/>"
        return f"<{self.name}{attributes}>{inside}</{self.name}>"


COLOURS: Final = {
    "handshake": "#6b7280",
    "close": "#b45309",
    "reset": "#dc2626",
    "http": "#2563eb",
    "htcpcp": "#7c2d12",
    "tls": "#7c3aed",
    "data": "#6b7280",
}
LEGEND: Final = (
    ("handshake", "TCP handshake (SYN, SYN-ACK, ACK)"),
    ("close", "TCP close (FIN)"),
    ("reset", "TCP reset (RST)"),
    ("http", "HTTP message (first line)"),
    ("htcpcp", "HTCPCP message (first line)"),
    ("tls", "TLS records (encrypted)"),
    ("data", "rest of a message"),
)
_STYLE: Final = (
    "text{font-family:ui-sans-serif,system-ui,sans-serif}"
    ".sd-title{font-size:18px;font-weight:600}.sd-legend{font-size:12px}"
    ".sd-head{font-size:14px;font-weight:600}.sd-life{stroke:#111827;stroke-dasharray:4 3}"
    ".sd-label{font-size:12px;paint-order:stroke;stroke:#fff;stroke-width:3px}"
    ".sd-ports{font-size:10px;fill:#6b7280}.sd-time{font-size:11px;fill:#374151;"
    "font-family:ui-monospace,monospace}.sd-gap{fill:#f3f4f6}.sd-gaptext{font-size:11px;"
    "fill:#6b7280}.sd-handshake{stroke-dasharray:5 3}"
    + "".join(
        f".sd-{k}{{stroke:{c};stroke-width:1.6}}.sd-{k}-text{{fill:{c}}}"
        for k, c in COLOURS.items()
    )
)


def _element(name: str, text: str = "", *children: Element, **attributes: object) -> Element:
    pairs = tuple((k.rstrip("_").replace("_", "-"), str(v)) for k, v in attributes.items())
    return Element(name, pairs, text, children)


def _svg_text(x: float, y: float, words: str, css: str, anchor: str = "middle") -> Element:
    return _element("text", words, x=f"{x:.0f}", y=f"{y:.0f}", class_=css, text_anchor=anchor)


def _rows(
    diagram: Diagram, top: float
) -> tuple[list[tuple[Arrow, float]], list[tuple[float, float]], float]:
    """Each arrow's row, the breaks (row, seconds) and the height below the last row."""
    y = top
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
    return placed, breaks, y + SLOPE + 40


def _legend(kinds: list[tuple[str, str]]) -> Iterator[Element]:
    for number, (kind, words) in enumerate(kinds):
        x = 12 + (number % LEGEND_PER_ROW) * 290
        y = LEGEND_TOP + (number // LEGEND_PER_ROW) * LEGEND_ROW
        yield _element(
            "line",
            x1=x,
            y1=y - 4,
            x2=x + 28,
            y2=y - 4,
            class_=f"sd-{kind}",
            marker_end=f"url(#sd-head-{kind})",
        )
        yield _svg_text(x + 36, y, words, "sd-legend", "start")


def _arrow(arrow: Arrow, y: float, start: float, unit: str) -> Iterator[Element]:
    x1, x2 = _x_of(arrow.source), _x_of(arrow.destination)
    rightwards = x2 > x1
    ports = f"{arrow.ports[0]} → {arrow.ports[1]}"
    yield _element(
        "line",
        "",
        _element("title", f"{unit} {arrow.frame}, {ports}"),
        x1=f"{x1 + (6 if rightwards else -6):.0f}",
        y1=f"{y:.0f}",
        x2=f"{x2 - (8 if rightwards else -8):.0f}",
        y2=f"{y + SLOPE:.0f}",
        class_=f"sd-{arrow.kind}",
        marker_end=f"url(#sd-head-{arrow.kind})",
    )
    yield _svg_text((x1 + x2) / 2, y + SLOPE / 2 - 5, arrow.label, f"sd-label sd-{arrow.kind}-text")
    anchor = "end" if rightwards else "start"
    yield _svg_text(x1 + (-10 if rightwards else 10), y + 4, ports, "sd-ports", anchor)
    yield _svg_text(LEFT - 10, y + 4, f"{arrow.time - start:.4f}", "sd-time", "end")


def _x_of(column: int) -> float:
    return LEFT + COLUMN * column + COLUMN / 2


def draw(diagram: Diagram, title: str, standalone: bool = True, summary: str = "") -> Element:
    """
    The diagram as an C{<svg>} element.

    @param standalone: with its own stylesheet and background (a file);
        without, for a page that styles it (and names it by C{summary}).
    """
    kinds = {a.kind for a in diagram.arrows}
    legend = [entry for entry in LEGEND if entry[0] in kinds]
    top = LEGEND_TOP + LEGEND_ROW * (-(-len(legend) // LEGEND_PER_ROW)) + 60
    width = LEFT + COLUMN * max(len(diagram.lifelines), 2)
    placed, breaks, height = _rows(diagram, top)
    parts: list[Element] = [_svg_text(12, 28, title, "sd-title", "start"), *_legend(legend)]
    parts.append(_svg_text(12, top - 30, "time (s)", "sd-head", "start"))
    for column, name in enumerate(diagram.lifelines):
        x = f"{_x_of(column):.0f}"
        parts.append(_svg_text(_x_of(column), top - 30, name, "sd-head"))
        parts.append(
            _element("line", x1=x, y1=top - 20, x2=x, y2=f"{height - 30:.0f}", class_="sd-life")
        )
    for y, gap in breaks:
        parts.append(
            _element(
                "rect",
                x=LEFT,
                y=f"{y + 4:.0f}",
                width=width - LEFT,
                height=ROW - 8,
                class_="sd-gap",
            )
        )
        parts.append(
            _svg_text((LEFT + width) / 2, y + ROW / 2 + 5, f"… {gap:.2f} s later …", "sd-gaptext")
        )
    for arrow, y in placed:
        parts.extend(_arrow(arrow, y, diagram.start, diagram.unit))
    markers = tuple(
        _element(
            "marker",
            "",
            _element("path", d="M0,0 L10,5 L0,10 z", class_=f"sd-{kind}-text"),
            id=f"sd-head-{kind}",
            viewBox="0 0 10 10",
            refX=9,
            refY=5,
            markerWidth=7,
            markerHeight=7,
            orient="auto-start-reverse",
        )
        for kind in COLOURS
        if kind in kinds
    )
    size = {"width": str(width), "height": f"{height:.0f}", "viewBox": f"0 0 {width} {height:.0f}"}
    if standalone:
        head = [
            Element("defs", children=markers),
            Element("style", text=_STYLE),
            _element("rect", width="100%", height="100%", fill="#fff"),
        ]
        attributes = {"xmlns": "http://www.w3.org/2000/svg", **size}
    else:
        head = [
            _element("title", title, id="sd-title"),
            _element("desc", summary, id="sd-desc"),
            Element("defs", children=markers),
        ]
        attributes = {
            **size,
            "class": "spacetime",
            "role": "img",
            "aria-labelledby": "sd-title sd-desc",
        }
    return Element("svg", tuple(attributes.items()), "", (*head, *parts))


def render_svg(diagram: Diagram, title: str = "") -> str:
    """The diagram as a standalone SVG document."""
    return draw(diagram, title or "space-time diagram").serialize() + "\n"


def render_html(diagram: Diagram, title: str) -> str:
    """The diagram in an HTML page (the SVG inline, with a summary)."""
    counts = {kind: sum(a.kind == kind for a in diagram.arrows) for kind, _ in LEGEND}
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>body{{margin:1rem;font-family:system-ui,"
        "sans-serif}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{len(diagram.arrows)} arrows: {html.escape(summary)}.</p>"
        f"{render_svg(diagram, title)}</body></html>\n"
    )
