"""
The reports of L{htcpcp.check}: console lines, JUnit XML and JSON, from
hand-made results (no server).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from twisted.trial.unittest import TestCase

from htcpcp.check.model import Attempt, Case, CaseResult, Ending, Level, Outcome
from htcpcp.check.report import (
    case_line,
    details,
    escape_bytes,
    json_report,
    junit_report,
    summary,
)


async def _body(context: object) -> None:
    del context


def result(number: int, outcome: Outcome, level: Level = Level.MUST, **more: object) -> CaseResult:
    case = Case(f"lab/{number}", f"case {number}", f"lab task {number}", level, _body)
    return CaseResult(case, outcome, 0.25, **more)  # type: ignore[arg-type]


SENT = b"GET coffee://ducky HTTP/1.1\r\n\r\n"
RECEIVED = b"{}\xff"
ATTEMPT = Attempt(
    SENT, RECEIVED, Ending.CLOSED, 0.012, (), "no status line: the answer starts b'{}'"
)


class EscapeTests(TestCase):
    def test_line_ends_and_bytes_spelled_out(self) -> None:
        self.assertEqual(
            escape_bytes(b"A\r\nB\tC\\\x00\n\xe9"),
            ["A\\r\\n", "B\\tC\\\\\\x00\\n", "\\xe9"],
        )

    def test_limit_says_how_much_is_left(self) -> None:
        self.assertEqual(escape_bytes(b"abcdef", 4), ["abcd", "... (2 more bytes)"])

    def test_nothing(self) -> None:
        self.assertEqual(escape_bytes(b""), [])


class ConsoleTests(TestCase):
    def test_case_line(self) -> None:
        self.assertEqual(case_line(result(3, Outcome.WARN)), "WARN lab/3 case 3")

    def test_failure_shows_rule_sentence_and_bytes(self) -> None:
        failed = result(2, Outcome.FAIL, message="add a Date", failing=ATTEMPT, attempts=(ATTEMPT,))
        self.assertEqual(
            details(failed),
            [
                "  MUST lab task 2",
                "  add a Date",
                "  sent (31 bytes):",
                "    > GET coffee://ducky HTTP/1.1\\r\\n",
                "    > \\r\\n",
                "  received (3 bytes, connection closed, 12 ms):",
                "    < {}\\xff",
            ],
        )

    def test_warning_shows_no_bytes(self) -> None:
        warned = result(1, Outcome.WARN, Level.SHOULD, message="say Safe", attempts=(ATTEMPT,))
        self.assertEqual(details(warned), ["  SHOULD lab task 1", "  say Safe"])

    def test_pass_has_no_details(self) -> None:
        self.assertEqual(details(result(1, Outcome.PASS)), [])

    def test_summary(self) -> None:
        results = [result(1, Outcome.PASS), result(2, Outcome.PASS), result(3, Outcome.FAIL)]
        results.append(result(4, Outcome.WARN))
        self.assertEqual(summary(results, 1.234), "2 passed, 1 failed, 1 warnings (1.2 s)")
        results.append(result(5, Outcome.SKIP))
        self.assertEqual(summary(results, 0.0), "2 passed, 1 failed, 1 warnings, 1 skipped (0.0 s)")


class FileReportTests(TestCase):
    results = [
        result(1, Outcome.PASS, attempts=(ATTEMPT,)),
        result(2, Outcome.FAIL, message="no Date", failing=ATTEMPT, attempts=(ATTEMPT,)),
        result(3, Outcome.WARN, Level.SHOULD, message="say Safe"),
        result(4, Outcome.SKIP, message="server down"),
    ]

    def test_junit(self) -> None:
        root = ElementTree.fromstring(junit_report(self.results, "coffee://x", 2.0))
        self.assertEqual(
            (root.tag, root.get("tests"), root.get("failures"), root.get("skipped")),
            ("testsuites", "4", "1", "1"),
        )
        [suite] = root.findall("testsuite")
        self.assertEqual(suite.get("name"), "lab")
        cases = suite.findall("testcase")
        self.assertEqual(
            [c.get("name") for c in cases], [f"lab/{n} case {n}" for n in (1, 2, 3, 4)]
        )
        failure = cases[1].find("failure")
        assert failure is not None
        self.assertEqual((failure.get("message"), failure.get("type")), ("no Date", "MUST"))
        out = cases[1].findtext("system-out") or ""
        self.assertIn("  > GET coffee://ducky HTTP/1.1\\r\\n", out)
        self.assertIn("  < {}\\xff", out)
        self.assertIsNone(cases[2].find("failure"))
        self.assertTrue((cases[2].findtext("system-out") or "").startswith("WARN: say Safe"))
        skipped = cases[3].find("skipped")
        assert skipped is not None
        self.assertEqual(skipped.get("message"), "server down")

    def test_json_keeps_exact_bytes(self) -> None:
        document = json.loads(json_report(self.results, "coffee://x", "lab", 2.0))
        self.assertEqual(document["summary"], {"pass": 1, "fail": 1, "warn": 1, "skip": 1})
        failed = document["cases"][1]
        self.assertEqual(
            (failed["id"], failed["level"], failed["outcome"]), ("lab/2", "MUST", "FAIL")
        )
        self.assertEqual(failed["failing"], 0)
        [attempt] = failed["attempts"]
        self.assertEqual(attempt["sent"].encode("latin-1"), SENT)
        self.assertEqual(attempt["received"].encode("latin-1"), RECEIVED)
        self.assertEqual((attempt["ending"], attempt["problem"][:14]), ("closed", "no status line"))
