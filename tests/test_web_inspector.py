"""
Tests of the Inspector's space-time diagram: the connection each exchange
went on, as a real L{PotClient} records it over loopback; the diagram built
from recorded exchanges; and the Inspector page that shows it inline
(StubTreq), accessible and within the Content-Security-Policy.
"""

from __future__ import annotations

import itertools
import re
import socket
import xml.etree.ElementTree as ElementTree

from treq.testing import StubTreq
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp import buildPotServer
from htcpcp.client import Exchange, PotClient, PotUnreachable, Wire
from htcpcp.web import FrontEnd
from htcpcp.web.http.security import CONTENT_SECURITY_POLICY
from htcpcp.web.pages.spacetime import spacetime
from htcpcp.web.pots.inspector import Inspector

from .helpers import fast_config, memory_server
from .test_web_support import MemoryHistory, MemoryPotClient, Web, make_web

BREW = (
    b"BREW /pot-0 HTCPCP/1.1\r\nHost: ducky\r\nContent-Type: message/coffeepot\r\n"
    b"Content-Length: 5\r\n\r\nstart"
)
BREWED = b"HTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
GET = b"GET /pot-0 HTCPCP/1.1\r\nHost: ducky\r\n\r\n"
POT = ("127.0.0.1", 5030)
SVG = "{http://www.w3.org/2000/svg}"


def exchange(
    request: bytes,
    started: float,
    local_port: int | None,
    opened: bool = True,
    closed: bool = True,
    response: bytes | None = BREWED,
    pot: tuple[str, int] = POT,
) -> Exchange:
    """An exchange that took 0.25 s, its connection ready 0.01 s after it started."""
    wire = None
    if local_port is not None:
        wire = Wire(("127.0.0.1", local_port), pot, opened, started + 0.01, closed)
    status = 200 if response else None
    error = None if response else "no answer"
    return Exchange("tcp:127.0.0.1:5030", request, response, status, started, 0.25, error, wire)


class WireTests(TestCase):
    """What a real L{PotClient} records of its connections, over loopback."""

    def serve(self) -> int:
        server = buildPotServer(fast_config())
        for pot in server.pots:
            self.addCleanup(pot.shutdown)
        listening: list[IListeningPort] = []
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(server.factory).addCallback(
            listening.append
        )
        self.addCleanup(listening[0].stopListening)
        return listening[0].getHost().port

    async def exchanges(self, connections: str) -> tuple[int, list[Exchange]]:
        port = self.serve()
        recorded: list[Exchange] = []
        client = PotClient(
            endpoint=f"tcp:127.0.0.1:{port}", connections=connections, on_exchange=recorded.append
        )
        self.addCleanup(client.close)
        for _ in range(3):
            await client.get("/pot-0")
        return port, recorded

    async def test_per_request_connections_each_open_and_close(self) -> None:
        port, recorded = await self.exchanges("per-request")
        wires = [e.wire for e in recorded]
        self.assertEqual([(w.opened, w.closed) for w in wires if w], [(True, True)] * 3)
        self.assertEqual({w.remote for w in wires if w}, {("127.0.0.1", port)})
        local_ports = {w.local[1] for w in wires if w}
        self.assertEqual(len(local_ports), 3)
        for each in recorded:
            assert each.wire is not None
            self.assertGreaterEqual(each.wire.sent, each.started)
            self.assertLessEqual(each.wire.sent, each.started + (each.elapsed or 0))

    async def test_pooled_connections_are_reused(self) -> None:
        _, recorded = await self.exchanges("pooled")
        wires = [e.wire for e in recorded]
        self.assertEqual(
            [(w.opened, w.closed) for w in wires if w],
            [(True, False), (False, False), (False, False)],
        )
        self.assertEqual(len({w.local for w in wires if w}), 1)

    async def test_no_connection_no_wire(self) -> None:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        recorded: list[Exchange] = []
        client = PotClient(endpoint=f"tcp:127.0.0.1:{port}", on_exchange=recorded.append)
        self.addCleanup(client.close)
        with self.assertRaises(PotUnreachable):
            await client.get("/pot-0")
        self.assertEqual(len(recorded), 1)
        self.assertIsNone(recorded[0].wire)
        self.assertIn("refused", recorded[0].error or "")


class DiagramTests(SynchronousTestCase):
    """The diagram built from recorded exchanges."""

    def test_a_per_request_exchange(self) -> None:
        drawing = spacetime([exchange(BREW, 100.0, 41000)], 5031)
        assert drawing is not None
        diagram = drawing.diagram
        self.assertEqual(diagram.lifelines, ("web front end :5031", "pot server :5030"))
        self.assertEqual(
            [(a.kind, a.label, a.source, a.destination, a.ports) for a in diagram.arrows],
            [
                ("handshake", "SYN", 0, 1, (41000, 5030)),
                ("handshake", "SYN, ACK", 1, 0, (5030, 41000)),
                ("handshake", "ACK", 0, 1, (41000, 5030)),
                ("htcpcp", "BREW /pot-0 HTCPCP/1.1", 0, 1, (41000, 5030)),
                ("htcpcp", "HTCPCP/1.1 200 OK", 1, 0, (5030, 41000)),
                ("close", "FIN", 0, 1, (41000, 5030)),
            ],
        )
        self.assertEqual(
            [round(a.time - diagram.start, 2) for a in diagram.arrows],
            [0.0, 0.01, 0.01, 0.01, 0.25, 0.25],
        )
        self.assertEqual((drawing.drawn, drawing.undrawn, drawing.opened), (1, 0, 1))

    def test_a_reused_connection_has_no_handshake_and_no_close(self) -> None:
        drawing = spacetime([exchange(GET, 5.0, 41000, opened=False, closed=False)], None)
        assert drawing is not None
        self.assertEqual(drawing.diagram.lifelines[0], "web front end")
        self.assertEqual(
            [a.label for a in drawing.diagram.arrows],
            ["GET /pot-0 HTCPCP/1.1", "HTCPCP/1.1 200 OK"],
        )
        self.assertEqual(drawing.opened, 0)
        self.assertIn("; no new TCP connection (each went on one", drawing.summary())

    def test_exchanges_are_drawn_oldest_first_and_numbered_so(self) -> None:
        newest_first = [exchange(GET, 9.0, 41002), exchange(BREW, 3.0, 41001)]
        drawing = spacetime(newest_first, 5031)
        assert drawing is not None
        requests = [a for a in drawing.diagram.arrows if a.source == 0 and a.kind == "htcpcp"]
        self.assertEqual(
            [(a.label.split()[0], a.frame) for a in requests], [("BREW", 1), ("GET", 2)]
        )
        self.assertEqual(drawing.diagram.start, 3.0)
        self.assertEqual(drawing.diagram.unit, "exchange")

    def test_unanswered_and_unconnected_exchanges(self) -> None:
        timed_out = exchange(BREW, 1.0, 41000, response=None)
        refused = exchange(GET, 2.0, None)
        drawing = spacetime([timed_out, refused], 5031)
        assert drawing is not None
        self.assertEqual(
            [a.label for a in drawing.diagram.arrows],
            ["SYN", "SYN, ACK", "ACK", "BREW /pot-0 HTCPCP/1.1", "FIN"],
        )
        self.assertEqual((drawing.drawn, drawing.undrawn), (1, 1))
        self.assertTrue(drawing.summary().startswith("1 exchange between web front end :5031"))
        self.assertEqual(
            spacetime([timed_out, exchange(GET, 3.0, 41001)], None).summary().split("; ")[1],  # type: ignore[union-attr]
            "2 new TCP connections, each drawn as its handshake (SYN, SYN-ACK, ACK).",
        )
        self.assertIn("1 more never reached a connection", drawing.summary())
        self.assertIsNone(spacetime([refused], 5031))
        self.assertIsNone(spacetime([], 5031))

    def test_a_response_without_a_status_line(self) -> None:
        drawing = spacetime([exchange(GET, 1.0, 41000, response=b"garbage")], 5031)
        assert drawing is not None
        answer = drawing.diagram.arrows[4]
        self.assertEqual((answer.kind, answer.label), ("data", "… 7 bytes without a start line"))

    def test_two_pot_servers_on_one_port_are_told_apart_by_address(self) -> None:
        here = exchange(GET, 1.0, 41000, pot=("127.0.0.1", 5030))
        there = exchange(GET, 2.0, 41001, pot=("::1", 5030))
        drawing = spacetime([here, there], 5031)
        assert drawing is not None
        self.assertEqual(
            drawing.diagram.lifelines,
            ("web front end :5031", "pot server 127.0.0.1:5030", "pot server ::1:5030"),
        )
        self.assertEqual({a.destination for a in drawing.diagram.arrows if a.source == 0}, {1, 2})
        other = spacetime([here, exchange(GET, 2.0, 41001, pot=("127.0.0.1", 5443))], 5031)
        assert other is not None
        self.assertEqual(other.diagram.lifelines[1:], ("pot server :5030", "pot server :5443"))


def svg_of(page: str) -> ElementTree.Element:
    """The page's inline SVG, parsed (the flattener writes well-formed markup)."""
    found = re.search(r"<svg\b.*?</svg>", page, re.DOTALL)
    assert found is not None, "no <svg> on the page"
    markup = found.group(0).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1)
    return ElementTree.fromstring(markup)


class PageTests(SynchronousTestCase):
    """The Inspector page with the diagram, through StubTreq."""

    def page_with(self, *exchanges: Exchange, path: str = "/inspector") -> str:
        web = make_web()
        for each in exchanges:
            web.front.inspector.record(each)
        answer = web.go(path)
        self.assertEqual(answer.code, 200)
        self.assertEqual(
            answer.headers.getRawHeaders("content-security-policy"), [CONTENT_SECURITY_POLICY]
        )
        return str(answer.page)

    def test_the_diagram_is_inline_with_a_title_and_a_description(self) -> None:
        page = self.page_with(exchange(BREW, 100.0, 41000))
        svg = svg_of(page)
        self.assertEqual(svg.get("role"), "img")
        self.assertEqual(svg.get("aria-labelledby"), "sd-title sd-desc")
        title = svg.find(f"{SVG}title")
        desc = svg.find(f"{SVG}desc")
        assert title is not None and desc is not None
        self.assertEqual(title.get("id"), "sd-title")
        self.assertIn("from 00:01:40 UTC", title.text or "")
        self.assertEqual(desc.get("id"), "sd-desc")
        self.assertIn("1 exchange between web front end :443 and the pot server", desc.text or "")
        self.assertIn("; 1 new TCP connection, drawn as its handshake", desc.text or "")
        labels = [t.text for t in svg.iter(f"{SVG}text") if "sd-label" in (t.get("class") or "")]
        self.assertEqual(
            labels, ["SYN", "SYN, ACK", "ACK", "BREW /pot-0 HTCPCP/1.1", "HTCPCP/1.1 200 OK", "FIN"]
        )
        heads = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "sd-head"]
        self.assertEqual(heads, ["time (s)", "web front end :443", "pot server :5030"])

    def test_the_list_stays_as_the_text_alternative(self) -> None:
        page = self.page_with(exchange(BREW, 100.0, 41000), exchange(GET, 101.0, 41001))
        self.assertIn('<figcaption id="spacetime-caption">', page)
        self.assertIn('aria-labelledby="spacetime-caption"', page)
        self.assertIn('<a href="#exchanges">listed below</a>', page)
        self.assertRegex(page, r'<ol class="exchanges" reversed="" id="exchanges">')
        self.assertEqual(page.count('<li class="exchange '), 2)
        self.assertLess(page.index("<svg"), page.index('id="exchanges"'))

    def test_nothing_the_policy_refuses_and_no_colours_of_its_own(self) -> None:
        page = self.page_with(exchange(BREW, 100.0, 41000))
        self.assertNotIn("<style", page)
        self.assertNotIn(" style=", page)
        self.assertNotRegex(page, r"<script(?![^>]*\bsrc=)")
        svg = svg_of(page)
        painted = [e.tag for e in svg.iter() if e.get("fill") or e.get("stroke")]
        self.assertEqual(painted, [])
        self.assertNotIn("xmlns", re.search(r"<svg[^>]*>", page).group(0))  # type: ignore[union-attr]

    def test_the_filter_applies_to_the_diagram(self) -> None:
        page = self.page_with(
            exchange(BREW, 100.0, 41000),
            exchange(GET, 101.0, 41001),
            path="/inspector?show=changes",
        )
        labels = [t.text for t in svg_of(page).iter(f"{SVG}text")]
        self.assertIn("BREW /pot-0 HTCPCP/1.1", labels)
        self.assertNotIn("GET /pot-0 HTCPCP/1.1", labels)

    def test_no_diagram_without_connections(self) -> None:
        page = self.page_with()
        self.assertNotIn("<svg", page)
        self.assertIn("No exchanges yet", page)
        self.assertNotIn("<svg", self.page_with(exchange(GET, 1.0, None)))

    def test_readable_at_200_messages(self) -> None:
        history = MemoryHistory()
        server, clock = memory_server(fast_config(), history)  # type: ignore[arg-type]
        inspector = Inspector(reads=100, changes=0)
        client = MemoryPotClient(server, clock, inspector.record)
        front = FrontEnd(client, inspector=inspector, clock=clock)  # type: ignore[arg-type]
        web = Web(front, client, clock, history, StubTreq(front.resource()))
        for number in range(100):
            inspector.record(
                exchange(GET, 10.0 + number * 0.1, 41000, opened=number == 0, closed=False)
            )
        svg = svg_of(web.go("/inspector").page)
        labels = [t for t in svg.iter(f"{SVG}text") if "sd-label" in (t.get("class") or "")]
        messages = [t for t in labels if "HTCPCP/1.1" in (t.text or "")]
        self.assertEqual(len(messages), 200)
        rows = sorted(float(t.get("y") or 0) for t in labels)
        self.assertGreaterEqual(min(b - a for a, b in itertools.pairwise(rows)), 24)
        self.assertEqual(svg.get("width"), "830")
        self.assertEqual(svg.get("viewBox"), f"0 0 830 {svg.get('height')}")
