"""
L{htcpcp.check} against this project's own pot server on real loopback
ports, plain TCP and TLS: every profile runs, and every MUST case passes
except the ones issue 10 is fixing (listed, so this test fails the day they
pass and the list must be emptied).
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from htcpcp.cli import execute
from htcpcp.config import default_config
from tests.test_client import start_pot

WARNINGS: dict[str, str] = {}

CASE_COUNTS = {"lab": 20, "rfc2324": 50, "rfc7168": 13, "http": 25}
"""How many cases each profile has."""


async def run(case: TestCase, *argv: str) -> tuple[int, dict[str, Any], ElementTree.Element, str]:
    """Run C{htcpcp check argv} in process; its status, JSON and JUnit reports, output."""
    directory = Path(case.mktemp())
    directory.mkdir()
    out, err = io.StringIO(), io.StringIO()
    reports = ["--json", str(directory / "r.json"), "--junit", str(directory / "r.xml")]
    status = await execute(["check", *argv, *reports], reactor, out, err)
    case.assertEqual(err.getvalue(), "")
    report = json.loads((directory / "r.json").read_text())
    junit = ElementTree.parse(directory / "r.xml").getroot()
    return status, report, junit, out.getvalue()


def by_outcome(report: dict[str, Any], outcome: str) -> set[str]:
    return {c["id"] for c in report["cases"] if c["outcome"] == outcome}


class OwnServerTests(TestCase):
    """Every profile against the project's pot server (1 s brews)."""

    config = default_config().with_brew_time(1.0)

    def assertConforms(self, status: int, report: dict[str, Any], out: str) -> None:
        self.assertEqual(by_outcome(report, "FAIL"), set(), out)
        self.assertEqual(by_outcome(report, "WARN"), set(WARNINGS), out)
        self.assertEqual(by_outcome(report, "SKIP"), set(), out)
        self.assertEqual(status, 0)
        counted = {
            p: sum(1 for c in report["cases"] if c["id"].startswith(p + "/")) for p in CASE_COUNTS
        }
        self.assertEqual(counted, CASE_COUNTS)

    async def test_tcp(self) -> None:
        pot = await start_pot(self, config=self.config)
        status, report, junit, out = await run(
            self, f"coffee://localhost:{pot.port}", "--timeout", "2"
        )
        self.assertConforms(status, report, out)
        passed = sum(CASE_COUNTS.values()) - len(WARNINGS)
        self.assertEqual(
            out.splitlines()[-1].split(" (")[0],
            f"{passed} passed, 0 failed, {len(WARNINGS)} warnings",
        )
        failures = {
            t.get("name", "").split(" ")[0]
            for t in junit.iter("testcase")
            if t.find("failure") is not None
        }
        self.assertEqual(failures, set())

    async def test_tls(self) -> None:
        pot = await start_pot(self, config=self.config, tls_names=["localhost", "ducky"])
        assert pot.certificate is not None
        url = f"coffee://localhost:{pot.port}"
        status, report, _, out = await run(
            self, url, "--cafile", str(pot.certificate), "--timeout", "2"
        )
        self.assertConforms(status, report, out)
        self.assertIn("TLS", out.splitlines()[0])
