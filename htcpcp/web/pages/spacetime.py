# -*- test-case-name: tests.test_web_inspector -*-
"""
The Inspector's space-time diagram: the exchanges it recorded, drawn as
the lab asks students to draw a capture.

Two lifelines (this web front end, with the port the browser reached it
on, and the pot server, with its port; one per pot server address when
there are several); each exchange is its request and response as sloped
arrows labelled with their first lines, preceded by the TCP handshake when
the client opened a new connection for it (always, with
C{--pot-connections per-request}) and followed by a FIN when the client
closed the connection after it.  The times are the client's, counted from
the oldest exchange shown.  Exchanges that never reached a connection
(the pot server refused or was unreachable) are not drawn, only counted.

The SVG goes inline into the page (L{htcpcp.diagram_drawing.draw} with
C{standalone=False}): classes only, coloured by the page's stylesheet in
either theme, with a title and a text description; the list of exchanges
below it stays the text alternative.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from twisted.web.template import Tag

from htcpcp.client import Exchange, Wire
from htcpcp.diagram import message_label
from htcpcp.diagram_drawing import Arrow, Diagram, Element, draw

__all__ = ["Spacetime", "spacetime"]


@dataclass(frozen=True)
class Spacetime:
    """
    The diagram of some exchanges and what it shows, in words.

    @ivar drawn: how many exchanges are drawn.
    @ivar undrawn: how many had no connection to draw.
    @ivar opened: how many new TCP connections are drawn.
    """

    diagram: Diagram
    title: str
    drawn: int
    undrawn: int
    opened: int

    def summary(self) -> str:
        """The diagram in one paragraph, for the description and the caption."""
        exchanges = f"{self.drawn} exchange{'s' * (self.drawn != 1)}"
        if self.opened == 0:
            connections = "no new TCP connection (each went on one already open)"
        elif self.opened == 1:
            connections = "1 new TCP connection, drawn as its handshake (SYN, SYN-ACK, ACK)"
        else:
            connections = (
                f"{self.opened} new TCP connections, each drawn as its handshake"
                " (SYN, SYN-ACK, ACK)"
            )
        words = (
            f"{exchanges} between {self.diagram.lifelines[0]} and the pot server, oldest at the"
            f" top, each request and response an arrow labelled with its first line and time;"
            f" {connections}."
        )
        if self.undrawn:
            words += f" {self.undrawn} more never reached a connection and are not drawn."
        return words

    def svg(self) -> Tag:
        """The diagram as an inline C{<svg>} for the page."""
        return _tag(draw(self.diagram, self.title, standalone=False, summary=self.summary()))


def _tag(element: Element) -> Tag:
    children = (_tag(child) for child in element.children)
    return Tag(element.name, attributes=dict(element.attributes))(element.text, *children)


def _first_line(data: bytes) -> str:
    label = message_label(data)
    if label is not None:
        return label
    return f"… {len(data)} bytes without a start line"


def _arrows(exchange: Exchange, wire: Wire, number: int, column: int) -> Iterator[Arrow]:
    """The arrows of one exchange, from the web (column 0) to the pot (C{column})."""
    out = (wire.local[1], wire.remote[1])
    back = (wire.remote[1], wire.local[1])
    answered = exchange.started + (exchange.elapsed or 0.0)
    if wire.opened:
        yield Arrow(exchange.started, 0, column, "handshake", "SYN", out, number)
        yield Arrow(wire.sent, column, 0, "handshake", "SYN, ACK", back, number)
        yield Arrow(wire.sent, 0, column, "handshake", "ACK", out, number)
    yield Arrow(wire.sent, 0, column, "htcpcp", _first_line(exchange.request), out, number)
    if exchange.response:
        label = message_label(exchange.response)
        kind = "htcpcp" if label is not None else "data"
        yield Arrow(answered, column, 0, kind, _first_line(exchange.response), back, number)
    if wire.closed:
        yield Arrow(answered, 0, column, "close", "FIN", out, number)


def _pot_names(remotes: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
    if len({port for _, port in remotes}) == len(remotes):
        return {remote: f"pot server :{remote[1]}" for remote in remotes}
    return {(host, port): f"pot server {host}:{port}" for host, port in remotes}


def spacetime(exchanges: Sequence[Exchange], web_port: int | None) -> Spacetime | None:
    """
    The diagram of C{exchanges} (in any order), or C{None} when none went
    over a connection.  Exchanges are numbered oldest first, as the
    Inspector's list (newest first) counts them down.

    @param web_port: the port the browser reached this web front end on.
    """
    oldest_first = sorted(exchanges, key=lambda exchange: exchange.started)
    wired = [(n, e, e.wire) for n, e in enumerate(oldest_first, 1) if e.wire is not None]
    if not wired:
        return None
    remotes = list(dict.fromkeys(wire.remote for _, _, wire in wired))
    names = _pot_names(remotes)
    columns = {remote: number for number, remote in enumerate(remotes, 1)}
    web = f"web front end :{web_port}" if web_port else "web front end"
    arrows = [
        arrow
        for number, exchange, wire in wired
        for arrow in _arrows(exchange, wire, number, columns[wire.remote])
    ]
    arrows.sort(key=lambda arrow: arrow.time)
    start = wired[0][1].started
    title = f"This web front end and the pot server, from {_utc(start)} UTC"
    diagram = Diagram((web, *names.values()), tuple(arrows), start, unit="exchange")
    opened = sum(wire.opened for _, _, wire in wired)
    return Spacetime(diagram, title, len(wired), len(exchanges) - len(wired), opened)


def _utc(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds))
