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

AWAITING_ISSUE_10 = {
    "lab/12": "GET with application/tea-pot-command gets 200, not 415",
    "lab/14": "beverage_type 'coffee', additions respelled",
    "lab/15": "pour_milk_start '' and pour_milk_stop '' while brewing",
    "lab/16": "PROPFIND nests the bean under 'bean'",
    "lab/18": "pour_milk_stop is a time after WHEN, not true",
    "lab/19": "stop on a finished brew is 409, the pot never empties",
    "lab/20": "answers with 18 additions exceed 1024 bytes",
    "http/1": "HTTP/1.1 origin-form requests get HTCPCP/1.1",
    "http/11": "HTTP/1.0 requests get HTCPCP/1.0",
    "http/20": "two Host fields accepted",
    "http/21": "no Host accepted",
    "http/22": "an invalid Host accepted",
    "http/23": "Expect: 100-continue waits for the body",
    "http/24": "a length-less BREW waits 2 s",
    "http/25": "a GET after a length-less BREW is read as its body",
}
"""MUST cases today's server fails and issue 10 fixes, with what it does now."""

WARNINGS = {
    "rfc7168/9": "BREW / with message/teapot gets 415 (/ is the coffee pot)",
    "http/17": "HTTP/1.2 gets 505 (issue 10)",
}

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
        self.assertEqual(by_outcome(report, "FAIL"), set(AWAITING_ISSUE_10), out)
        self.assertEqual(by_outcome(report, "WARN"), set(WARNINGS), out)
        self.assertEqual(by_outcome(report, "SKIP"), set(), out)
        self.assertEqual(status, 1 if AWAITING_ISSUE_10 else 0)
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
        passed = sum(CASE_COUNTS.values()) - len(AWAITING_ISSUE_10) - len(WARNINGS)
        self.assertEqual(
            out.splitlines()[-1].split(" (")[0],
            f"{passed} passed, {len(AWAITING_ISSUE_10)} failed, {len(WARNINGS)} warnings",
        )
        failures = {
            t.get("name", "").split(" ")[0]
            for t in junit.iter("testcase")
            if t.find("failure") is not None
        }
        self.assertEqual(failures, set(AWAITING_ISSUE_10))

    async def test_tls(self) -> None:
        pot = await start_pot(self, config=self.config, tls_names=["localhost", "ducky"])
        assert pot.certificate is not None
        url = f"coffee://localhost:{pot.port}"
        status, report, _, out = await run(
            self, url, "--cafile", str(pot.certificate), "--timeout", "2"
        )
        self.assertConforms(status, report, out)
        self.assertIn("TLS", out.splitlines()[0])
