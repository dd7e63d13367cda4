"""Crafted captures for the dissector's hard cases (issue 15), each checked in one and two passes.

Every case is a synthetic capture written by :mod:`tests.pcapfile` with segment boundaries chosen
by the test: bytes that are not UTF-8, a request sent one byte per segment on a port only the
heuristic knows, a body that starts like a TLS record, a segment that starts mid-request, data
at the start of a capture, chunk sizes with more than 8 hex digits, a Content-Length longer
than its body, request numbering and links, the ``-z htcpcp,tree`` statistics, the field
registry, the TLS port table and the coloring rules file.  tshark runs as in
:mod:`tests.test_dissector` (which also skips or fails without tshark).
"""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.pcapfile import Capture
from tests.test_dissector import (
    DISSECTOR,
    REPO,
    DissectorFailed,
    config_dir,
    http_message,
    ints,
    require_tshark,
    response,
    run_tshark,
    values,
)

COLORFILTERS = REPO / "dissector" / "htcpcp.colorfilters"
COFFEE = "Content-Type: message/coffeepot"
REPLACEMENT = "\ufffd"


def tshark_output(capture: Path, options: list[str], two_pass: bool) -> bytes:
    """tshark's raw stdout for ``capture`` (checked for Lua errors like run_tshark)."""
    command = [require_tshark(), "-n", *(["-2"] if two_pass else [])]
    command += ["-X", f"lua_script:{DISSECTOR}", "-r", str(capture), *options]
    env = {**os.environ, "WIRESHARK_CONFIG_DIR": config_dir()}
    result = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 or "Lua" in stderr:
        raise DissectorFailed(f"tshark exited {result.returncode}: {stderr}")
    return result.stdout


def both_passes(capture: Path, display_filter: str = "htcpcp") -> dict:
    """Rows of one pass and of two passes, which must be identical; returns them."""
    one = run_tshark(capture, display_filter, two_pass=False)
    two = run_tshark(capture, display_filter, two_pass=True)
    return {"one": one, "two": two}


class Cases(SynchronousTestCase):
    def setUp(self) -> None:
        require_tshark()
        self.directory = Path(self.mktemp())
        self.directory.mkdir(parents=True)

    def write(self, cap: Capture, name: str) -> Path:
        return cap.write(self.directory / f"{name}.pcap")

    def assertSamePasses(self, rows: dict, fields: tuple[str, ...]) -> None:
        """One pass and two passes show the same frames with the same values of ``fields``."""
        self.assertEqual(sorted(rows["one"]), sorted(rows["two"]))
        for frame in rows["one"]:
            for name in fields:
                self.assertEqual(
                    values(rows["one"][frame], name), values(rows["two"][frame], name), frame
                )


class Utf8Tests(Cases):
    """Bytes that are not UTF-8 become U+FFFD; JSON, EK and PDML output stay valid UTF-8."""

    def capture(self) -> tuple[Path, int, int]:
        cap = Capture()
        c = cap.connect(40100, 5030)
        request = c.client(
            b"BREW coffee://ducky/pot-\xff0 HTCPCP/1.1\r\nUse-Pot: caf\xc3\xa9 \xe9t\x00e\r\n"
            b"Accept-Additions: Cr\xe8me, Whisky\r\nContent-Length: 6\r\n\r\nst\xffart"
        )
        reply = c.server(b"HTCPCP/1.1 418 I'm a \xfe\xfeteapot\r\nContent-Length: 1\r\n\r\n\x80")
        c.close()
        return self.write(cap, "utf8"), request, reply

    def test_field_values_keep_every_character(self) -> None:
        capture, request, reply = self.capture()
        for two_pass in (False, True):
            rows = run_tshark(capture, two_pass=two_pass)
            row = rows[request]
            self.assertEqual(values(row, "htcpcp.request.uri"), ["coffee://ducky/pot-\ufffd0"])
            self.assertEqual(values(row, "htcpcp.request.uri.pot"), ["pot-\ufffd0"])
            # Valid UTF-8 (é) stays; a lone 0xe9 and the NUL become U+FFFD, nothing is cut.
            self.assertEqual(values(row, "htcpcp.use_pot"), ["café \ufffdt\ufffde"])
            self.assertEqual(
                values(row, "htcpcp.accept_additions.addition"), ["Cr\ufffdme", "Whisky"]
            )
            self.assertEqual(values(row, "htcpcp.body"), ["st\ufffdart"])
            self.assertEqual(
                values(rows[reply], "htcpcp.response.phrase"), ["I'm a \ufffd\ufffdteapot"]
            )

    def test_json_ek_and_pdml_are_valid_utf8(self) -> None:
        capture, request, _ = self.capture()
        for two_pass in (False, True):
            text = tshark_output(capture, ["-T", "json", "--no-duplicate-keys"], two_pass)
            packets = json.loads(text.decode("utf-8"))  # strict: raises on invalid UTF-8
            layers = packets[request - 1]["_source"]["layers"]
            self.assertIn("htcpcp", layers)
            self.assertIn(REPLACEMENT, json.dumps(layers["htcpcp"], ensure_ascii=False))
            for line in tshark_output(capture, ["-T", "ek"], two_pass).splitlines():
                json.loads(line.decode("utf-8"))
            pdml = tshark_output(capture, ["-T", "pdml"], two_pass).decode("utf-8")
            ElementTree.fromstring(pdml)
            self.assertIn("Request line: BREW coffee://ducky/pot-\ufffd0 HTCPCP/1.1", pdml)

    def test_info_column_is_not_cut(self) -> None:
        capture, request, _ = self.capture()
        text = tshark_output(capture, ["-Y", f"frame.number == {request}"], False)
        self.assertIn("BREW coffee://ducky/pot-\ufffd0 HTCPCP/1.1", text.decode("utf-8"))


class DecisionTests(Cases):
    """Heuristic and TLS decisions hold from their frame on: one pass equals two passes."""

    def test_request_one_byte_per_segment_on_a_heuristic_port(self) -> None:
        cap = Capture()
        c = cap.connect(40200, 8090)
        request = http_message(
            "BREW coffee://ducky/pot-0 HTCPCP/1.1", [COFFEE, "Content-Length: 5"]
        )
        frames = [c.client(request[k : k + 1]) for k in range(len(request))]
        body = c.client(b"start")
        reply = c.server(response("200 OK", [], b"{}"))
        c.close()
        rows = both_passes(self.write(cap, "bytes"), "htcpcp or _ws.malformed")
        self.assertSamePasses(rows, ("htcpcp.request.method", "htcpcp.response.code"))
        self.assertEqual(sorted(rows["two"]), [body, reply])
        self.assertEqual(ints(rows["two"][body], "tcp.segment.count"), [len(frames) + 1])
        self.assertEqual(values(rows["two"][body], "htcpcp.request.method"), ["BREW"])
        self.assertEqual(values(rows["two"][body], "htcpcp.command"), ["start"])
        self.assertEqual(ints(rows["two"][reply], "htcpcp.request_in"), [body])

    def test_body_that_starts_like_tls(self) -> None:
        """A body segment starting 16 03 01 on port 5030 is a body, not a TLS connection."""
        cap = Capture()
        c = cap.connect(40201, 5030)
        first = c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        first_ok = c.server(response("200 OK", [], b"{}"))
        head = c.client(
            http_message("BREW coffee://ducky/pot-0 HTCPCP/1.1", [COFFEE, "Content-Length: 8"])
        )
        body = c.client(b"\x16\x03\x01\x00\x05abc")
        reply = c.server(response("200 OK", [], b"{}"))
        c.close()
        rows = both_passes(self.write(cap, "tlsbody"), "htcpcp or tls")
        self.assertSamePasses(rows, ("htcpcp.request.method", "tls.record.content_type"))
        self.assertEqual(sorted(rows["two"]), [first, first_ok, body, reply])
        self.assertNotIn(head, rows["two"])
        self.assertEqual(values(rows["two"][body], "htcpcp.request.method"), ["BREW"])
        self.assertEqual(values(rows["two"][body], "tls.app_data"), [])

    def test_heuristic_needs_a_known_method(self) -> None:
        """A segment starting mid-request ("EW coffee://...") on a heuristic port is not HTCPCP."""
        cap = Capture()
        c = cap.connect(40202, 8091)
        c.client(b"EW coffee://ducky/pot-0 HTCPCP/1.1\r\nContent-Length: 0\r\n\r\n")
        c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        c.close()
        rows = both_passes(self.write(cap, "ew"))
        self.assertEqual(rows["one"], {})
        self.assertEqual(rows["two"], {})


class NoiseTests(Cases):
    """Continuations, long chunk sizes and too-long Content-Length are reported precisely."""

    def test_data_at_the_start_is_continuation(self) -> None:
        cap = Capture()
        c = cap.connect(40300, 5030)
        orphan = c.client(b'{"rest": "of a body whose head was not captured"}')
        request = c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        c.server(response("200 OK", [], b"{}"))
        c.close()
        capture = self.write(cap, "orphan")
        rows = both_passes(capture, "htcpcp or _ws.malformed")
        self.assertSamePasses(rows, ("htcpcp.data", "_ws.expert.message"))
        self.assertEqual(values(rows["two"][request], "htcpcp.request.method"), ["GET"])
        severities = run_tshark(capture, "_ws.expert.severity >= warning")
        self.assertEqual(sorted(severities), [])
        info = tshark_output(capture, ["-Y", f"frame.number == {orphan}"], True).decode()
        self.assertIn("Continuation", info)
        self.assertNotIn("Malformed", info)

    def test_chunk_sizes_with_more_than_eight_digits(self) -> None:
        cap = Capture()
        c = cap.connect(40301, 5030)
        head = http_message(
            "BREW coffee://ducky/pot-0 HTCPCP/1.1", [COFFEE, "Transfer-Encoding: chunked"]
        )
        ok = c.client(head + b"0000000005\r\nstart\r\n000000000000\r\n\r\n")
        huge = c.client(head + b"fffffffffffff\r\nstart\r\n")
        after = c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        c.close()
        rows = both_passes(self.write(cap, "chunks"))
        self.assertSamePasses(rows, ("htcpcp.chunk_size", "_ws.expert.message"))
        row = rows["two"][ok]
        self.assertEqual(ints(row, "htcpcp.chunk_size"), [5, 0])
        self.assertEqual(values(row, "htcpcp.body"), ["start"])
        self.assertEqual(values(row, "_ws.expert.message"), [])
        self.assertEqual(values(rows["two"][huge], "_ws.expert.message"), ["Malformed chunk"])
        self.assertEqual(values(rows["two"][after], "htcpcp.request.method"), ["GET"])
        self.assertEqual(values(rows["two"][after], "_ws.expert.message"), [])

    def test_content_length_longer_than_the_body(self) -> None:
        """The next request is not swallowed: the first one is flagged as truncated there."""
        cap = Capture()
        c = cap.connect(40302, 5030)
        c.client(
            http_message("BREW coffee://ducky/pot-0 HTCPCP/1.1", [COFFEE, "Content-Length: 60"])
        )
        cut = c.client(b"start")
        second = c.client(http_message("GET coffee://ducky/pot-1 HTCPCP/1.1"))
        replies = [c.server(response("200 OK", [], b"{}")) for _ in range(2)]
        c.close()
        rows = both_passes(self.write(cap, "longcl"))
        self.assertSamePasses(rows, ("htcpcp.request.method", "htcpcp.request_in"))
        last = rows["two"][second]
        self.assertEqual(values(last, "htcpcp.request.method"), ["BREW", "GET"])
        self.assertEqual(values(last, "htcpcp.body"), ["start"])
        self.assertIn(
            "Content-Length runs past the next message: the body is truncated there",
            values(last, "_ws.expert.message"),
        )
        self.assertNotIn(cut, rows["two"])
        self.assertEqual(ints(rows["two"][replies[1]], "htcpcp.request_in"), [second])


class LinkTests(Cases):
    """Request numbers, previous/next request links, response time."""

    def test_numbers_and_links(self) -> None:
        cap = Capture()
        c = cap.connect(40400, 5030)
        requests, replies = [], []
        for n in range(3):
            requests.append(c.client(http_message(f"GET coffee://ducky/pot-{n} HTCPCP/1.1")))
            cap.wait(0.5)
            replies.append(c.server(response("200 OK", [], b"{}")))
        c.close()
        rows = both_passes(self.write(cap, "links"))
        # Like response_in, a link to a later frame needs the second pass.
        self.assertSamePasses(rows, ("htcpcp.request_number", "htcpcp.prev_request_in"))
        two = rows["two"]
        self.assertEqual([ints(two[f], "htcpcp.request_number") for f in requests], [[1], [2], [3]])
        self.assertEqual([ints(two[f], "htcpcp.request_number") for f in replies], [[1], [2], [3]])
        self.assertEqual(
            [ints(two[f], "htcpcp.prev_request_in") for f in requests[1:]],
            [[requests[0]], [requests[1]]],
        )
        self.assertEqual(
            [ints(two[f], "htcpcp.next_request_in") for f in requests[:2]],
            [[requests[1]], [requests[2]]],
        )
        # The writer's clock: the 500 ms wait plus two 1 ms packet steps (request ACK, response).
        self.assertEqual(values(two[replies[2]], "htcpcp.time"), ["0.502000000"])


class StatisticsTests(Cases):
    """tshark -z htcpcp,tree counts methods, codes, additions and pots, with response times."""

    def test_tree(self) -> None:
        cap = Capture()
        c = cap.connect(40500, 5030)
        for method, pot, code in (
            ("BREW", "pot-0", "200 OK"),
            ("BREW", "pot-1", "418 I'm a teapot"),
            ("GET", "pot-0", "200 OK"),
        ):
            c.client(
                http_message(
                    f"{method} coffee://ducky/{pot} HTCPCP/1.1", ["Accept-Additions: Cream, Whisky"]
                )
            )
            c.server(response(code))
        c.close()
        text = tshark_output(self.write(cap, "stats"), ["-q", "-z", "htcpcp,tree"], False)
        lines = [" ".join(line.split()) for line in text.decode().splitlines()]
        for expected in (
            "Requests by method 3",
            "BREW 2 66.67%",
            "GET 1 33.33%",
            "Responses by status code 3",
            "200 2 66.67%",
            "418 1 33.33%",
            "Additions asked for 6",
            "Cream 3 50.00%",
            "Whisky 3 50.00%",
            "Requests by pot 3",
            "pot-0 2 66.67%",
            "pot-1 1 33.33%",
        ):
            self.assertIn(expected, lines)
        self.assertTrue(any(line.startswith("BREW 2 0.002000") for line in lines), lines)


class RegistryTests(Cases):
    """Fields in a stable order with descriptions and distinct labels; TLS port; coloring rules."""

    def registry(self, what: str) -> list[list[str]]:
        command = [require_tshark(), "-G", what, "-X", f"lua_script:{DISSECTOR}"]
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": config_dir()}
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def test_fields(self) -> None:
        def htcpcp_fields() -> list[list[str]]:
            return [
                row
                for row in self.registry("fields")
                if row[0] == "F" and row[4] == "htcpcp" and not row[2].startswith("htcpcp.expert.")
            ]

        fields = htcpcp_fields()
        self.assertEqual(fields, htcpcp_fields())
        names = [row[2] for row in fields]
        self.assertEqual(names[:3], ["htcpcp.request", "htcpcp.response", "htcpcp.request_line"])
        self.assertEqual(names[-1], "htcpcp.data")
        labels = [row[1] for row in fields]
        self.assertEqual(len(labels), len(set(labels)), labels)
        self.assertEqual([row[2] for row in fields if not row[-1].strip()], [])

    def test_tls_port_for_decode_as(self) -> None:
        decodes = self.registry("decodes")
        self.assertIn(["tls.port", "5030", "htcpcp"], decodes)
        self.assertIn(["tcp.port", "5030", "htcpcp"], decodes)

    def test_coloring_rules_compile(self) -> None:
        rules = [line for line in COLORFILTERS.read_text().splitlines() if line.startswith("@")]
        self.assertGreaterEqual(len(rules), 3)
        cap = Capture()
        c = cap.connect(40600, 5030)
        c.client(http_message("BREW coffee://ducky/pot-0 HTCPCP/1.1"))
        c.server(response("418 I'm a teapot"))
        c.close()
        capture = self.write(cap, "colors")
        for rule in rules:
            name, display_filter, colors = rule[1:].split("@")
            self.assertRegex(colors, r"^\[\d+,\d+,\d+\]\[\d+,\d+,\d+\]$", name)
            tshark_output(capture, ["-Y", display_filter], False)  # raises if it does not compile
