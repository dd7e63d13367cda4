# -*- test-case-name: tests.test_benchmarks -*-
"""
The benchmark harness's own logic: paired ratios, targets and their rounds,
the loads' requests, and the C load generator's groups (each connection
sending only its part of the sequence), run for real against a loopback
server.  No timings are asserted here: the harness reports them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial import unittest

from htcpcp.config import load_config
from htcpcp.pot import PotKind
from tests.helpers import require_program

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

from loads import BREW_POTS, brew, brew_cycles, pots_config  # noqa: E402
from processes import c_escape  # noqa: E402
from summaries import paired_ratio, round_ratios  # noqa: E402
from targets import meets, target_rows  # noqa: E402


def _run(round_no: int, rps: float = 0.0, **fields: Any) -> dict[str, Any]:
    return {"round": round_no, "rps": rps, **fields}


class RatioTests(unittest.TestCase):
    def test_ratios_pair_runs_of_the_same_round(self) -> None:
        subject = [_run(0, 10.0), _run(1, 30.0), _run(2, 50.0)]
        other = [_run(1, 60.0), _run(0, 40.0)]  # round 2 of the other is missing
        self.assertEqual(round_ratios(subject, other), [0.25, 0.5])

    def test_the_paired_ratio_is_the_median_over_rounds(self) -> None:
        subject = [_run(0, 1.0), _run(1, 9.0), _run(2, 4.0)]
        other = [_run(0, 2.0), _run(1, 10.0), _run(2, 1.0)]
        self.assertEqual(paired_ratio(subject, other), 0.9)

    def test_no_rounds_in_common_is_no_ratio(self) -> None:
        self.assertIsNone(paired_ratio([_run(0, 1.0)], [_run(1, 1.0)]))


class TargetTests(unittest.TestCase):
    def test_comparisons(self) -> None:
        self.assertEqual(
            [meets(2.0, ">=", 2.0), meets(2.0, "<=", 2.0), meets(2.0, "<", 2.0)],
            [True, True, False],
        )
        self.assertFalse(meets(1.99, ">=", 2.0))
        self.assertFalse(meets(2.01, "<=", 2.0))

    def _results(self, **parts: Any) -> dict[str, Any]:
        empty = {
            "scenarios": {},
            "memory": {},
            "slowloris": {},
            "settings": {"idle_connections": 10},
        }
        return {**empty, **parts}

    def _row(self, rows: list[dict[str, Any]], starts: str) -> dict[str, Any]:
        [row] = [r for r in rows if r["target"].startswith(starts)]
        return row

    def test_history_pages_at_1m_against_1k_per_round(self) -> None:
        runs = [
            {"page": "log last page", "size": 1_000, "round": 0, "p50_us": 1000.0},
            {"page": "log last page", "size": 1_000, "round": 1, "p50_us": 1000.0},
            {"page": "log last page", "size": 1_000_000, "round": 0, "p50_us": 1500.0},
            {"page": "log last page", "size": 1_000_000, "round": 1, "p50_us": 3000.0},
        ]
        history = {
            "sizes": [1_000, 1_000_000],
            "runs": runs,
            "startup_s": {1_000_000: [1.5, 2.5, 1.9]},
        }
        rows = target_rows(self._results(history=history))
        last = self._row(rows, "log last page p50, 1,000,000 ÷ 1,000 brews <= 2")
        self.assertEqual((last["measured"], last["met"]), ("2.25", False))
        self.assertEqual(last["rounds"], "1 of 2 (1.50 to 3.00)")
        slowest = self._row(rows, "/log p50 at 1,000,000 brews, slowest page (ms) < 20")
        self.assertEqual((slowest["measured"], slowest["met"]), ("2.25", True))
        startup = self._row(rows, "start-up to listening with 1,000,000 brews (s) < 2")
        self.assertEqual((startup["measured"], startup["met"]), ("1.90", True))
        self.assertEqual(startup["rounds"], "2 of 3 (1.50 to 2.50)")

    def test_what_was_not_measured_says_so(self) -> None:
        rows = target_rows(self._results())
        tls = self._row(rows, "TLS connection per request / TLS ceiling >= 0.8")
        self.assertEqual((tls["measured"], tls["met"], tls["rounds"]), ("not measured", None, "—"))

    def test_slow_readers_and_live_pages_have_absolute_bounds(self) -> None:
        normal = {"p99_us": 51_000.0}
        filling = {"p99_us": 49_000.0}
        readers = {
            "plain": {"rss_growth_mb": 50.0, "normal_during": normal, "normal_filling": filling}
        }
        live = {"pages": 1000, "within": 999, "within_s": 1.0, "rss_growth_mb": 30.1}
        rows = target_rows(self._results(slow_readers=readers, live=live))
        self.assertTrue(self._row(rows, "RSS growth with 300 slow readers, plain")["met"])
        self.assertFalse(
            self._row(rows, "normal client's p99 during the slow readers, plain")["met"]
        )
        self.assertIsNone(self._row(rows, "RSS growth with 300 slow readers, tls")["met"])
        self.assertFalse(self._row(rows, "RSS growth with 1,000 live pages")["met"])
        share = self._row(rows, "share of live pages that saw a change within 1 s")
        self.assertEqual((share["measured"], share["met"]), ("1.00", False))  # 0.999 rounds up


class LoadTests(unittest.TestCase):
    def test_the_several_pots_configuration_has_that_many_coffee_pots(self) -> None:
        pots = load_config(pots_config(BREW_POTS)).pots
        self.assertEqual(len(pots), BREW_POTS)
        self.assertEqual({p.kind for p in pots}, {PotKind.COFFEE})

    def test_each_pot_has_its_start_and_stop_in_turn(self) -> None:
        cycles = brew_cycles(3)
        self.assertEqual(len(cycles), 6)
        self.assertTrue(cycles[4].startswith(b"BREW /pot-2 HTTP/1.1\r\n"))
        self.assertTrue(cycles[4].endswith(b"Content-Length: 5\r\n\r\nstart"))
        self.assertTrue(cycles[5].endswith(b"Content-Length: 4\r\n\r\nstop"))
        self.assertEqual(cycles[1], brew(0, b"stop"))

    def test_c_escapes(self) -> None:
        self.assertEqual(c_escape(b"a\\b\r\n\x01~"), "a\\\\b\\r\\n\\x01~")


class _Recorder(Protocol):
    """Answers every request head with an empty 200 and notes its request line."""

    factory: _RecorderFactory

    def connectionMade(self) -> None:
        self.buffer = b""
        self.lines: list[bytes] = []
        self.factory.connections.append(self.lines)

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.lines.append(head.split(b"\r\n", 1)[0])
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


class _RecorderFactory(Factory):
    protocol = _Recorder

    def __init__(self) -> None:
        self.connections: list[list[bytes]] = []


class LoadGeneratorGroupTests(unittest.TestCase):
    async def _loadgen(self) -> str:
        """The load generator, compiled for this test."""
        gcc = require_program("gcc", "gcc")
        directory = Path(self.mktemp())
        directory.mkdir()
        binary = directory / "loadgen"
        source = str(BENCH_DIR / "loadgen.c")
        _, err, code = await getProcessOutputAndValue(
            gcc, ["-O2", "-std=gnu11", "-o", str(binary), source], env=dict(os.environ)
        )
        self.assertEqual(code, 0, err)
        return str(binary)

    async def test_each_connection_cycles_through_its_own_group(self) -> None:
        binary = await self._loadgen()
        factory = _RecorderFactory()
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        requests = [f"GET /{name} HTTP/1.1\\r\\n\\r\\n" for name in ("a1", "a2", "b1", "b2")]
        args = ["-p", str(port.getHost().port), "-c", "2", "-g", "2", "-n", "20"]
        for request in requests:
            args += ["-r", request]
        out, err, code = await getProcessOutputAndValue(binary, args)
        self.assertEqual(code, 0, err)
        self.assertIn(b'"ok_total":', out)
        self.assertEqual(len(factory.connections), 2)
        first, second = factory.connections
        self.assertEqual(set(first), {b"GET /a1 HTTP/1.1", b"GET /a2 HTTP/1.1"})
        self.assertEqual(set(second), {b"GET /b1 HTTP/1.1", b"GET /b2 HTTP/1.1"})
        self.assertEqual(first[:2], [b"GET /a1 HTTP/1.1", b"GET /a2 HTTP/1.1"])

    async def test_a_sequence_that_does_not_split_evenly_is_refused(self) -> None:
        binary = await self._loadgen()
        _, err, code = await getProcessOutputAndValue(
            binary, ["-p", "1", "-g", "2", "-n", "1", "-r", "x", "-r", "y", "-r", "z"]
        )
        self.assertEqual(code, 2)
        self.assertIn(b"usage", err)
