# -*- test-case-name: tests.test_check_report -*-
"""
The reports of a run: the console lines (one per case, the bytes of each
failure, a summary), JUnit XML for CI systems and autograders, and JSON
with every connection's transcript.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from typing import Any, Final

from htcpcp.check.model import Attempt, CaseResult, Outcome

__all__ = ["case_line", "details", "escape_bytes", "json_report", "junit_report", "summary"]

SHOWN_BYTES: Final = 2048
"""Bytes of each direction shown on the console for a failure (the reports keep all)."""


def escape_bytes(data: bytes, limit: int | None = None) -> list[str]:
    """C{data} as printable lines: C{\\r} and C{\\n} spelled out, other bytes as C{\\xNN}."""
    shown = data if limit is None else data[:limit]
    if not shown:
        return []
    lines = []
    for line in shown.split(b"\n"):
        text = "".join(
            chr(b)
            if 0x20 <= b < 0x7F and b != 0x5C
            else {0x0D: "\\r", 0x09: "\\t", 0x5C: "\\\\"}.get(b, f"\\x{b:02x}")
            for b in line
        )
        lines.append(text)
    ended = shown.endswith(b"\n")
    lines = [line + "\\n" for line in lines[:-1]] + ([] if ended else [lines[-1]])
    if limit is not None and len(data) > limit:
        lines.append(f"... ({len(data) - limit} more bytes)")
    return lines


def case_line(result: CaseResult) -> str:
    return f"{result.outcome.value} {result.case.id} {result.case.name}"


def _transcript(attempt: Attempt, limit: int | None) -> list[str]:
    lines = [f"sent ({len(attempt.sent)} bytes):"]
    lines += [f"  > {line}" for line in escape_bytes(attempt.sent, limit)]
    ending = attempt.ending.value + (f": {attempt.error}" if attempt.error else "")
    took = f"{attempt.elapsed * 1000:.0f} ms"
    lines.append(f"received ({len(attempt.received)} bytes, connection {ending}, {took}):")
    lines += [f"  < {line}" for line in escape_bytes(attempt.received, limit)]
    if not attempt.received:
        lines.append("  (nothing)")
    return lines


def details(result: CaseResult) -> list[str]:
    """The indented lines under a case's line: why it failed, warned or was skipped."""
    if result.outcome is Outcome.PASS:
        return []
    lines = [f"  {result.case.level.value} {result.case.cites}", f"  {result.message}"]
    if result.outcome is Outcome.FAIL and result.failing is not None:
        lines += [f"  {line}" for line in _transcript(result.failing, SHOWN_BYTES)]
    return lines


def summary(results: Sequence[CaseResult], elapsed: float) -> str:
    counts = {o: sum(1 for r in results if r.outcome is o) for o in Outcome}
    line = (
        f"{counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed,"
        f" {counts[Outcome.WARN]} warnings"
    )
    if counts[Outcome.SKIP]:
        line += f", {counts[Outcome.SKIP]} skipped"
    return f"{line} ({elapsed:.1f} s)"


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "sent": attempt.sent.decode("latin-1"),
        "received": attempt.received.decode("latin-1"),
        "ending": attempt.ending.value,
        "elapsed": round(attempt.elapsed, 4),
        "statuses": [r.status for r in attempt.responses],
        "problem": attempt.problem,
        "error": attempt.error,
    }


def json_report(results: Sequence[CaseResult], target: str, profile: str, elapsed: float) -> str:
    """The run as JSON; bytes are written as Latin-1 text, one character per byte."""
    counts = {o.value.lower(): sum(1 for r in results if r.outcome is o) for o in Outcome}
    document = {
        "tool": "htcpcp check",
        "target": target,
        "profile": profile,
        "elapsed": round(elapsed, 3),
        "summary": counts,
        "cases": [
            {
                "id": r.case.id,
                "name": r.case.name,
                "cites": r.case.cites,
                "level": r.case.level.value,
                "outcome": r.outcome.value,
                "message": r.message,
                "elapsed": round(r.elapsed, 4),
                "failing": r.attempts.index(r.failing) if r.failing in r.attempts else None,
                "attempts": [_attempt_json(a) for a in r.attempts],
            }
            for r in results
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def junit_report(results: Sequence[CaseResult], target: str, elapsed: float) -> bytes:
    """The run as JUnit XML: a test suite per profile, a test case per case."""
    suites = ElementTree.Element(
        "testsuites",
        name=f"htcpcp check {target}",
        tests=str(len(results)),
        failures=str(sum(1 for r in results if r.outcome is Outcome.FAIL)),
        skipped=str(sum(1 for r in results if r.outcome is Outcome.SKIP)),
        time=f"{elapsed:.3f}",
    )
    for profile in dict.fromkeys(r.case.profile for r in results):
        mine = [r for r in results if r.case.profile == profile]
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=profile,
            tests=str(len(mine)),
            failures=str(sum(1 for r in mine if r.outcome is Outcome.FAIL)),
            skipped=str(sum(1 for r in mine if r.outcome is Outcome.SKIP)),
            time=f"{sum(r.elapsed for r in mine):.3f}",
        )
        for result in mine:
            _junit_case(suite, result)
    ElementTree.indent(suites)
    document: bytes = ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _junit_case(suite: ElementTree.Element, result: CaseResult) -> None:
    case = result.case
    element = ElementTree.SubElement(
        suite,
        "testcase",
        classname=f"htcpcp.check.{case.profile}",
        name=f"{case.id} {case.name}",
        time=f"{result.elapsed:.3f}",
    )
    properties = ElementTree.SubElement(element, "properties")
    for name, value in (("level", case.level.value), ("cites", case.cites)):
        ElementTree.SubElement(properties, "property", name=name, value=value)
    if result.outcome is Outcome.FAIL:
        ElementTree.SubElement(element, "failure", message=result.message, type=case.level.value)
    elif result.outcome is Outcome.SKIP:
        ElementTree.SubElement(element, "skipped", message=result.message)
    elif result.outcome is Outcome.WARN:
        ElementTree.SubElement(properties, "property", name="warning", value=result.message)
    transcript = [line for attempt in result.attempts for line in _transcript(attempt, None)]
    if result.outcome is Outcome.WARN:
        transcript.insert(0, f"WARN: {result.message}")
    ElementTree.SubElement(element, "system-out").text = "\n".join(transcript)
