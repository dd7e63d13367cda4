"""
L{htcpcp.check} against test doubles that each break one rule of the lab's
checkoff: each fails exactly the cases that rule is about, and the run
completes (a hung, closing or dying server fails its case, not the run).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from htcpcp.cli import execute
from tests.check_doubles import Defects, start_lab_double

LAB_CASES = 20
"""The lab profile's case count (lab/1 to lab/20)."""


def lab_ids(*numbers: int) -> set[str]:
    return {f"lab/{n}" for n in numbers}


async def check(case: TestCase, port: int, *options: str) -> tuple[int, dict[str, Any], str]:
    """Run C{htcpcp check} on the lab profile; return its status, JSON report and output."""
    report = Path(case.mktemp())
    out, err = io.StringIO(), io.StringIO()
    argv = ["check", f"coffee://127.0.0.1:{port}", "--profile", "lab", "--timeout", "1"]
    status = await execute([*argv, "--json", str(report), *options], reactor, out, err)
    case.assertEqual(err.getvalue(), "")
    return status, json.loads(report.read_text()), out.getvalue()


def outcomes(report: dict[str, Any], outcome: str) -> set[str]:
    return {c["id"] for c in report["cases"] if c["outcome"] == outcome}


class LabDoubleTests(TestCase):
    """The checker's verdicts on lab-style servers, correct and broken."""

    async def assertFails(
        self, defects: Defects, failing: set[str], **double: Any
    ) -> dict[str, Any]:
        served = await start_lab_double(self, defects, **double)
        status, report, out = await check(self, served.port_number)
        self.assertEqual(outcomes(report, "FAIL"), failing, out)
        self.assertEqual(len(report["cases"]), LAB_CASES)
        self.assertEqual(status, 1 if failing else 0)
        return report

    async def test_correct_lab_server_passes(self) -> None:
        report = await self.assertFails(Defects(), set())
        self.assertEqual(outcomes(report, "PASS"), lab_ids(*range(1, LAB_CASES + 1)))

    async def test_no_status_line(self) -> None:
        report = await self.assertFails(
            Defects(no_status_line=True), lab_ids(1, 2, 3, 4, 14, 15, 16, 17, 18, 19, 20)
        )
        [first] = [c for c in report["cases"] if c["id"] == "lab/1"]
        self.assertIn("no status line", first["message"])
        self.assertIn("Create response headers", first["message"])
        self.assertTrue(first["attempts"][0]["received"].startswith("Server: CoffeePot\r\n"))

    async def test_no_date(self) -> None:
        report = await self.assertFails(Defects(no_date=True), lab_ids(4))
        [case] = [c for c in report["cases"] if c["id"] == "lab/4"]
        self.assertEqual(
            case["message"],
            "no Date header: add 'Date: ' + current_date to"
            " headers_to_send (see the lab's TODO 'Create response headers' (headers_to_send))",
        )

    async def test_wrong_version(self) -> None:
        report = await self.assertFails(Defects(http_version=True), lab_ids(1))
        [case] = [c for c in report["cases"] if c["id"] == "lab/1"]
        self.assertIn("the status line is b'HTTP/1.1 200 OK'", case["message"])

    async def test_200_instead_of_406(self) -> None:
        report = await self.assertFails(Defects(ok_instead_of_406=True), lab_ids(7, 8))
        [case] = [c for c in report["cases"] if c["id"] == "lab/7"]
        self.assertIn("Handle rejected valid request", case["message"])

    async def test_406_without_the_list(self) -> None:
        report = await self.assertFails(Defects(empty_406=True), lab_ids(8))
        [case] = [c for c in report["cases"] if c["id"] == "lab/8"]
        self.assertIn("does not list cream, half-and-half", case["message"])

    async def test_closes_without_answering(self) -> None:
        report = await self.assertFails(Defects(close_on_propfind=True), lab_ids(16))
        [case] = [c for c in report["cases"] if c["id"] == "lab/16"]
        self.assertIn("closed the connection without answering", case["message"])

    async def test_hangs(self) -> None:
        report = await self.assertFails(Defects(hang_on_milk=True), lab_ids(11))
        [case] = [c for c in report["cases"] if c["id"] == "lab/11"]
        self.assertIn("no answer within 1.0 s", case["message"])
        self.assertEqual(case["attempts"][-1]["ending"], "timeout")

    async def test_dies_on_when(self) -> None:
        """Without a restart the rest of the run is skipped, and the run still completes."""
        report = await self.assertFails(Defects(die_on_when=True), lab_ids(18))
        self.assertEqual(outcomes(report, "SKIP"), lab_ids(19, 20))
        [case] = [c for c in report["cases"] if c["id"] == "lab/18"]
        self.assertIn("stopped accepting connections during this case", case["message"])

    async def test_dies_on_when_and_restarts(self) -> None:
        """With --restart-wait the case that brought it down is blamed and the run goes on."""
        served = await start_lab_double(self, Defects(die_on_when=True), restart_after=0.3)
        status, report, out = await check(self, served.port_number, "--restart-wait", "5")
        self.assertEqual((status, outcomes(report, "FAIL")), (1, lab_ids(18)), out)
        self.assertEqual(outcomes(report, "SKIP"), set())
        self.assertEqual(served.deaths, 1)
