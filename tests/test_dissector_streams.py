# -*- test-case-name: tests.test_dissector_streams -*-
"""Pairing per TCP connection, lost messages, and the summary lines of runs without a tree.

Each case is a synthetic capture written by :mod:`tests.pcapfile`, dissected with tshark in one
pass and in two passes (as in :mod:`tests.test_dissector`, which skips or fails without
tshark): a client reusing its port for a second connection, a response the capture lost (its
client's acknowledgement captured), a request the capture lost, a brewing answer after a lost
response, links between messages far apart in a capture (the dissector writes its records 64
at a time, and notes the first record of each frame), and the Info column of ``tshark -r`` and
``tshark -2 -r``, which build no tree (the second pass replays the first).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.pcapfile import Capture
from tests.test_dissector import (
    DISSECTOR,
    DissectorFailed,
    config_dir,
    http_message,
    ints,
    require_tshark,
    response,
    run_tshark,
    values,
)

NOT_CAPTURED = "Response not captured: a later response answers a later request"


class Streams(SynchronousTestCase):
    def setUp(self) -> None:
        require_tshark()
        self.directory = Path(self.mktemp())
        self.directory.mkdir(parents=True)

    def write(self, cap: Capture, name: str) -> Path:
        return cap.write(self.directory / f"{name}.pcap")

    def passes(self, capture: Path, options: tuple[str, ...] = ()) -> list[dict]:
        """The rows of one pass and of two passes."""
        return [run_tshark(capture, "htcpcp", options, two_pass) for two_pass in (False, True)]


class PortReuseTests(Streams):
    """A second connection on the same address/port pair is a connection of its own."""

    def capture(self) -> tuple[Path, int, int, int]:
        cap = Capture()
        first = cap.connect(40700, 5030)
        unanswered = first.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        first.close()
        second = cap.connect(40700, 5030)
        brew = second.client(http_message("BREW coffee://ducky/pot-1 HTCPCP/1.1"))
        answer = second.server(response("200 OK"))
        second.close()
        return self.write(cap, "reuse"), unanswered, brew, answer

    def test_second_connection_pairs_and_numbers_afresh(self) -> None:
        capture, unanswered, brew, answer = self.capture()
        for rows in self.passes(capture):
            self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [brew])
            self.assertEqual(ints(rows[brew], "htcpcp.request_number"), [1])
            self.assertEqual(ints(rows[answer], "htcpcp.request_number"), [1])
            self.assertEqual(ints(rows[brew], "htcpcp.prev_request_in"), [])
        two = self.passes(capture)[1]
        self.assertEqual(ints(two[unanswered], "htcpcp.response_in"), [])

    def test_without_the_tracker_the_pair_key_is_all_there_is(self) -> None:
        # The documented limit when htcpcp_tcp is disabled: the old connection's request
        # takes the answer, and the numbering goes on.
        capture, unanswered, brew, answer = self.capture()
        for rows in self.passes(capture, ("--disable-protocol", "htcpcp_tcp")):
            self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [unanswered])
            self.assertEqual(ints(rows[brew], "htcpcp.request_number"), [2])


class SharedPortTests(Streams):
    """Two hosts on the same port pair at once are two connections, with or without the tracker."""

    def capture(self) -> tuple[Path, list[int], list[int]]:
        cap = Capture()
        first = cap.connect(40800, 5030, client_ip="127.0.0.2")
        second = cap.connect(40800, 5030, client_ip="127.0.0.3")
        requests = [first.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))]
        requests.append(second.client(http_message("BREW coffee://ducky/pot-1 HTCPCP/1.1")))
        requests.append(first.client(http_message("GET coffee://ducky/pot-2 HTCPCP/1.1")))
        answers = [second.server(response("200 OK"))]
        answers += [first.server(response("200 OK")), first.server(response("200 OK"))]
        first.close()
        second.close()
        return self.write(cap, "shared_ports"), requests, answers

    def check(self, options: tuple[str, ...]) -> None:
        capture, requests, answers = self.capture()
        for rows in self.passes(capture, options):
            self.assertEqual(
                [ints(rows[f], "htcpcp.request_in") for f in answers],
                [[requests[1]], [requests[0]], [requests[2]]],
            )
            self.assertEqual(
                [ints(rows[f], "htcpcp.request_number") for f in requests], [[1], [1], [2]]
            )

    def test_with_the_tracker(self) -> None:
        self.check(())

    def test_without_the_tracker(self) -> None:
        self.check(("--disable-protocol", "htcpcp_tcp"))


class LostMessageTests(Streams):
    """One message missing from the capture costs its own pair only."""

    def test_lost_response(self) -> None:
        cap = Capture()
        c = cap.connect(40710, 5030)
        requests, answers = [], []
        requests.append(c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1")))
        c.lost_server(response("200 OK", [], b"{}"))
        for n in (1, 2):
            requests.append(c.client(http_message(f"GET coffee://ducky/pot-{n} HTCPCP/1.1")))
            answers.append(c.server(response("200 OK", [], b"{}")))
        c.close()
        capture = self.write(cap, "lost_response")
        one, two = self.passes(capture)
        for rows in (one, two):
            self.assertEqual(
                [ints(rows[f], "htcpcp.request_in") for f in answers],
                [[requests[1]], [requests[2]]],
            )
        self.assertEqual(ints(two[requests[0]], "htcpcp.response_in"), [])
        self.assertIn(NOT_CAPTURED, values(two[requests[0]], "_ws.expert.message"))
        self.assertEqual(ints(two[requests[2]], "htcpcp.response_in"), [answers[1]])

    def test_lost_request(self) -> None:
        cap = Capture()
        c = cap.connect(40711, 5030)
        c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        c.server(response("200 OK", [], b"{}"))
        c.lost_client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        orphan = c.server(response("200 OK", [], b"{}"))
        later = c.client(http_message("GET coffee://ducky/pot-1 HTCPCP/1.1"))
        answer = c.server(response("200 OK", [], b"{}"))
        c.close()
        for rows in self.passes(self.write(cap, "lost_request")):
            self.assertEqual(ints(rows[orphan], "htcpcp.request_in"), [])
            self.assertIn(
                "The request of this response was not captured",
                values(rows[orphan], "_ws.expert.message"),
            )
            self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [later])

    def test_brewing_answer_skips_a_request_that_did_not_brew(self) -> None:
        # Without the tracker (no sequence numbers to go by), a 418 still only answers a BREW.
        cap = Capture()
        c = cap.connect(40712, 5030)
        get = c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        c.lost_server(response("200 OK", [], b"{}"))
        brew = c.client(http_message("BREW coffee://ducky/pot-1 HTCPCP/1.1"))
        teapot = c.server(response("418 I'm a teapot"))
        after = c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        answer = c.server(response("200 OK", [], b"{}"))
        c.close()
        capture = self.write(cap, "brew_answer")
        for rows in self.passes(capture, ("--disable-protocol", "htcpcp_tcp")):
            self.assertEqual(ints(rows[teapot], "htcpcp.request_in"), [brew])
            self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [after])
        two = self.passes(capture, ("--disable-protocol", "htcpcp_tcp"))[1]
        self.assertIn(NOT_CAPTURED, values(two[get], "_ws.expert.message"))


class SummaryLineTests(Streams):
    """Without a tree (tshark -r), a second pass replays the first pass's Info column."""

    def summary(self, capture: Path, two_pass: bool) -> list[str]:
        command = [require_tshark(), "-n", *(["-2"] if two_pass else [])]
        command += ["-X", f"lua_script:{DISSECTOR}", "-r", str(capture)]
        command += ["-o", 'gui.column.format:"No.","%m","Protocol","%p","Info","%i"']
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": config_dir()}
        result = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
        stderr = result.stderr.decode("utf-8", "replace")
        if result.returncode != 0 or "Lua" in stderr:
            raise DissectorFailed(f"tshark exited {result.returncode}: {stderr}")
        return [" ".join(line.split()) for line in result.stdout.decode().splitlines()]

    def test_info_column_in_one_and_two_passes(self) -> None:
        cap = Capture()
        c = cap.connect(40720, 5030)
        both = http_message("GET coffee://ducky/pot-0 HTCPCP/1.1") + http_message(
            "WHEN coffee://ducky/pot-0 HTCPCP/1.1"
        )
        pipelined = c.client(both)
        first = response("200 OK", [], b"{}")
        split = c.server(first + response("200 OK", [], b"ab")[:30])
        rest = c.server(response("200 OK", [], b"ab")[30:])
        c.close()
        capture = self.write(cap, "summary")
        one, two = self.summary(capture, False), self.summary(capture, True)
        self.assertEqual(one, two)
        lines = {int(line.split()[0]): line for line in one}
        self.assertEqual(
            lines[pipelined],
            f"{pipelined} HTCPCP GET coffee://ducky/pot-0 HTCPCP/1.1, "
            "WHEN coffee://ducky/pot-0 HTCPCP/1.1",
        )
        self.assertEqual(lines[split], f"{split} HTCPCP HTCPCP/1.1 200 OK")
        self.assertEqual(lines[rest], f"{rest} HTCPCP HTCPCP/1.1 200 OK")

    def test_continuation_names_its_message_in_one_and_two_passes(self) -> None:
        # A later piece of a body without a length.
        cap = Capture()
        c = cap.connect(40721, 5030)
        c.client(http_message("GET coffee://ducky/pot-0 HTCPCP/1.1"))
        head = c.server(b"HTCPCP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part")
        more = c.server(b" second part")
        c.close()
        capture = self.write(cap, "continuation")
        one, two = self.summary(capture, False), self.summary(capture, True)
        self.assertEqual(one, two)
        lines = {int(line.split()[0]): line for line in one}
        self.assertEqual(lines[more], f"{more} HTCPCP Continuation of frame {head}")


class FarApartTests(Streams):
    """Links and pairs hold between messages far apart, and after long stretches without any."""

    PIPELINED = 80  # more than the 64 records the dissector keeps before writing them out

    def test_pipelined_requests_answered_much_later(self) -> None:
        cap = Capture()
        c = cap.connect(40730, 5030)
        requests = [
            c.client(http_message(f"GET coffee://ducky/pot-{n} HTCPCP/1.1"))
            for n in range(self.PIPELINED)
        ]
        lost = 10
        answers = {}
        for n in range(self.PIPELINED):
            if n == lost:
                c.lost_server(response("200 OK", [], b"{}"))
            else:
                answers[n] = c.server(response("200 OK", [], b"{}"))
        c.close()
        capture = self.write(cap, "far_apart")
        one, two = self.passes(capture)
        for rows in (one, two):
            for n, answer in answers.items():
                self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [requests[n]])
                self.assertEqual(ints(rows[answer], "htcpcp.request_number"), [n + 1])
        for n, request in enumerate(requests):
            self.assertEqual(ints(two[request], "htcpcp.request_number"), [n + 1])
            previous = [requests[n - 1]] if n else []
            self.assertEqual(ints(two[request], "htcpcp.prev_request_in"), previous)
            self.assertEqual(ints(two[request], "htcpcp.next_request_in"), requests[n + 1 : n + 2])
            expected = [answers[n]] if n in answers else []
            self.assertEqual(ints(two[request], "htcpcp.response_in"), expected)
        self.assertIn(NOT_CAPTURED, values(two[requests[lost]], "_ws.expert.message"))
        self.assertNotIn(NOT_CAPTURED, values(two[requests[lost + 1]], "_ws.expert.message"))

    def test_exchanges_between_long_stretches_of_other_traffic(self) -> None:
        cap = Capture()
        other = cap.connect(40740, 9999)
        exchanges = []
        for gap, port in ((150, 40741), (3, 40742), (70, 40743), (65, 40744)):
            for _ in range(gap):
                other.client(b"not coffee")  # each with its ACK: two frames without a record
            c = cap.connect(port, 5030)
            request = c.client(http_message("BREW coffee://ducky/pot-0 HTCPCP/1.1"))
            answer = c.server(response("200 OK", [], b"{}"))
            c.close()
            exchanges.append((request, answer))
        capture = self.write(cap, "stretches")
        one, two = self.passes(capture)
        for rows in (one, two):
            self.assertEqual(sorted(rows), sorted(f for pair in exchanges for f in pair))
            for request, answer in exchanges:
                self.assertEqual(ints(rows[answer], "htcpcp.request_in"), [request])
        for request, answer in exchanges:
            self.assertEqual(ints(two[request], "htcpcp.response_in"), [answer])
