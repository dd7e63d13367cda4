"""
Tests of C{htcpcp diagram}: golden arrows of the sample captures and of the
lab's captures (when C{../shared} is beside the repository), counts checked
against tshark, and a 200-message capture drawn readably.
"""

from __future__ import annotations

import io
import itertools
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from argparse import Namespace
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from htcpcp.diagram import build_diagram, render_svg, run
from htcpcp.pcap import CaptureError, read_segments

from .pcapfile import Capture
from .test_dissector import LAB, REQUIRE_TOOLS, SAMPLE_NAMES, SAMPLES

SVG = "{http://www.w3.org/2000/svg}"


def labels(path: Path, *kinds: str) -> list[str]:
    return [a.label for a in build_diagram(read_segments(path)).arrows if a.kind in kinds]


class GoldenTests(SynchronousTestCase):
    def test_the_web_sample(self) -> None:
        diagram = build_diagram(read_segments(SAMPLES / "web.pcapng"))
        self.assertEqual(
            diagram.lifelines, ("browser", "web front end :49031", "pot server :35867")
        )
        self.assertEqual(
            [(a.kind, a.label) for a in diagram.arrows[:8]],
            [
                ("handshake", "SYN"),
                ("handshake", "SYN, ACK"),
                ("handshake", "ACK"),
                ("http", "GET / HTTP/1.1"),
                ("handshake", "SYN"),
                ("handshake", "SYN, ACK"),
                ("handshake", "ACK"),
                ("htcpcp", "PROPFIND /pot-0 HTCPCP/1.1"),
            ],
        )
        self.assertEqual((diagram.arrows[0].source, diagram.arrows[0].destination), (0, 1))
        self.assertEqual((diagram.arrows[7].source, diagram.arrows[7].destination), (1, 2))
        self.assertEqual(labels(SAMPLES / "web.pcapng", "http")[-1], "HTTP/1.1 200 OK")

    def test_the_tls_sample_shows_records_not_messages(self) -> None:
        found = labels(SAMPLES / "tls.pcapng", "tls", "htcpcp", "http")
        self.assertEqual(found[0], "TLS ClientHello")
        self.assertTrue(found[1].startswith("TLS ServerHello"))
        self.assertTrue(all(label.startswith("TLS ") for label in found))

    def test_the_lab_capture(self) -> None:
        capture = LAB / "coffee_418_406.pcapng"
        if not capture.exists():
            raise SkipTest(f"the lab's captures are not at {LAB}")
        diagram = build_diagram(read_segments(capture))
        self.assertEqual(diagram.lifelines, ("browser", "web front end :5031", "pot server :5030"))
        self.assertEqual(
            labels(capture, "htcpcp"),
            [
                "GET coffee://ducky HTTP/1.1",
                "HTCPCP/1.1 200 OK",
                "BREW coffee://ducky HTTP/1.1",
                "HTCPCP/1.1 418 I'm a Teapot",
                "GET coffee://ducky HTTP/1.1",
                "HTCPCP/1.1 200 OK",
                "BREW coffee://ducky HTTP/1.1",
                "HTCPCP/1.1 406 Not Acceptable",
                "GET coffee://ducky HTTP/1.1",
                "HTCPCP/1.1 200 OK",
            ],
        )
        self.assertEqual(labels(capture, "handshake").count("SYN"), 14)


class TsharkAgreementTests(SynchronousTestCase):
    """Every SYN, FIN, RST and data segment tshark sees is one arrow, in every sample."""

    def count(self, capture: Path, display_filter: str) -> int:
        tshark = shutil.which("tshark")
        if tshark is None:
            if REQUIRE_TOOLS:
                self.fail("tshark is not installed (HTCPCP_REQUIRE_TOOLS=1)")
            raise SkipTest("*** SKIPPED: tshark is not installed (apt-get install tshark) ***")
        result = subprocess.run(
            [
                tshark,
                "-n",
                "-r",
                str(capture),
                "-Y",
                display_filter,
                "-T",
                "fields",
                "-e",
                "frame.number",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return len(result.stdout.split())

    def test_counts(self) -> None:
        captures = [SAMPLES / f"{name}.pcapng" for name in sorted(SAMPLE_NAMES)]
        captures += sorted(LAB.glob("*.pcapng")) if LAB.exists() else []
        for capture in captures:
            arrows = build_diagram(read_segments(capture)).arrows
            kinds = [a.kind for a in arrows]
            syn = self.count(capture, "tcp.flags.syn == 1 && tcp.flags.ack == 0")
            self.assertEqual([a.label for a in arrows].count("SYN"), syn, capture.name)
            rst = self.count(capture, "tcp.flags.reset == 1")
            self.assertEqual(kinds.count("reset"), rst, capture.name)
            fin = self.count(capture, "tcp.flags.fin == 1 && tcp.len == 0 && tcp.flags.reset == 0")
            self.assertEqual(kinds.count("close"), fin, capture.name)
            data = self.count(capture, "tcp.len > 0 && tcp.flags.reset == 0")
            carrying = sum(k in ("http", "htcpcp", "tls", "data") for k in kinds)
            self.assertEqual(carrying, data, capture.name)


class ManyMessagesTests(SynchronousTestCase):
    def test_200_messages_in_a_classic_pcap(self) -> None:
        capture = Capture()
        conversation = capture.connect(40000, 5030)
        for number in range(100):
            conversation.client(b"GET /pot-%d HTCPCP/1.1\r\nHost: ducky\r\n\r\n" % (number % 2))
            conversation.server(b"HTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        conversation.close()
        path = capture.write(Path(self.mktemp() + ".pcap"))
        diagram = build_diagram(read_segments(path))
        self.assertEqual(diagram.lifelines, ("client", "pot server :5030"))
        self.assertEqual(sum(a.kind == "htcpcp" for a in diagram.arrows), 200)
        root = ElementTree.fromstring(render_svg(diagram, "many"))
        texts = [t for t in root.iter(f"{SVG}text") if "label" in (t.get("class") or "")]
        self.assertEqual(len(texts), len(diagram.arrows))
        rows = sorted(float(t.get("y") or 0) for t in texts)
        self.assertGreaterEqual(min(b - a for a, b in itertools.pairwise(rows)), 24)

    def test_not_a_capture(self) -> None:
        path = Path(self.mktemp())
        path.write_bytes(b"GET / HTTP/1.1\r\n\r\n")
        self.assertRaises(CaptureError, read_segments, path)
        err = io.StringIO()
        self.assertEqual(
            run(Namespace(capture=str(path), output=None, port=[]), io.StringIO(), err), 1
        )
        self.assertEqual(err.getvalue(), f"htcpcp: {path} is not a pcap or pcapng capture\n")

    def test_html_output(self) -> None:
        output = Path(self.mktemp() + ".html")
        out = io.StringIO()
        status = run(
            Namespace(capture=str(SAMPLES / "web.pcapng"), output=str(output), port=[]), out
        )
        self.assertEqual(status, 0)
        page = output.read_text()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertIn("<svg", page)
        self.assertIn("GET / HTTP/1.1", page)

    def test_ports_choose_the_servers(self) -> None:
        diagram = build_diagram(read_segments(SAMPLES / "web.pcapng"), [35867])
        self.assertEqual(diagram.lifelines, ("client", "pot server :35867"))
