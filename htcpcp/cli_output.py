# -*- test-case-name: tests.test_cli -*-
"""
What the C{htcpcp} command prints about a response: one line a person can
read for each command's success (a brew, a pot, a page of the log), the
reason for each failure, or the whole response as JSON (C{--json}).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from htcpcp.message import Response
from htcpcp.vocabulary import TEA_TYPE

__all__ = ["as_json", "describe"]


def _body_text(response: Response) -> str:
    return response.body.decode("utf-8", "replace").strip()


def _json_body(response: Response) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 1 or value == 0 else f"{value:.1f} s"


def _with(additions: Sequence[str]) -> str:
    return f" with {', '.join(additions)}" if additions else ""


def _brew_line(status: dict[str, Any]) -> str:
    variety = status.get("variety")
    beverage = (
        f"tea ({variety})" if variety else str(status.get("beverage_type", "a drink")).lower()
    )
    pot = status.get("pot", "the pot")
    state = status.get("state") or status.get("outcome")
    additions = status.get("additions") or []
    left = status.get("seconds_left") or 0
    line = f"pot {pot}: {beverage}{_with(additions)}"
    if status.get("outcome") == "stopped":
        line += f", stopped at {status.get('strength', 1.0):.0%} strength"
    elif state == "brewing":
        line += f", brewing: ready in {_seconds(left)}"
        if status.get("milk"):
            line += ", then milk pours until you say when"
    elif state == "pouring":
        line += ", pouring milk: say when (htcpcp when URL)"
    elif state:
        line += f", {state}"
    bean = status.get("coffee_bean") or {}
    if bean.get("name"):
        line += f"\n  bean: {bean['name']} ({bean.get('origin', '?')}, {bean.get('roast', '?')})"
    return line


def _pot_line(found: dict[str, Any]) -> str:
    pot = found.get("pot") or {}
    lines = [f"pot {pot.get('name', '?')} ({pot.get('kind', '?')}): {pot.get('state', '?')}"]
    if pot.get("additions"):
        lines.append("  additions: " + ", ".join(pot["additions"]))
    if pot.get("varieties"):
        lines.append("  varieties: " + ", ".join(pot["varieties"]))
    bean = found.get("bean")
    if bean:
        lines.append(
            f"  bean: {bean.get('name')} from {bean.get('origin')}, {bean.get('roast')} roast,"
            f" strength {bean.get('strength')}/5: {bean.get('profile')}"
        )
    return "\n".join(lines)


def _log_lines(page: dict[str, Any]) -> str:
    lines = [
        f"page {page.get('page', 1)} of {page.get('pages', 1)}"
        f" ({page.get('total', 0)} brews in all)"
    ]
    for brew in page.get("brews", []):
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(brew.get("started", 0)))
        beverage = brew.get("beverage", "?")
        if brew.get("variety"):
            beverage += f" ({brew['variety']})"
        lines.append(
            f"  {started}  {brew.get('pot', '?')}: {beverage}"
            f"{_with(brew.get('additions') or [])}: {brew.get('outcome', '?')}"
        )
    return "\n".join(lines)


def _success(command: str, response: Response) -> str:
    body = _json_body(response)
    if not isinstance(body, dict):
        return _body_text(response) or f"{response.status} {response.reason}"
    if command == "propfind" and "pot" in body:
        return _pot_line(body)
    if command == "log" and "brews" in body:
        return _log_lines(body)
    if not body:
        return "the pot is empty"
    if command == "when":
        return "said when: " + _brew_line(body)
    return _brew_line(body)


def _varieties(response: Response) -> list[str]:
    """The tea varieties a 300 response's Alternates offer."""
    found = []
    for entry in response.headers.get("alternates", "").split("},"):
        if TEA_TYPE in entry and '"' in entry:
            path = entry.split('"')[1]
            found.append(path.rstrip("/").rpartition("/")[2])
    return found


def _failure(options: argparse.Namespace, response: Response) -> str:
    status = response.status
    text = _body_text(response).splitlines()
    said = text[0] if text else response.reason
    retry = response.headers.get("retry-after", "").strip()
    if status == 418:
        return (
            "that pot is a teapot: it brews tea, not coffee; ask for a variety with"
            " --variety (htcpcp propfind URL lists them)"
        )
    if status == 300:
        varieties = _varieties(response)
        if not varieties:
            return f"the pot offers a choice: {said}"
        return (
            f"choose a tea variety: {', '.join(varieties)}"
            f" (e.g. htcpcp brew URL --variety {varieties[0]})"
        )
    if status == 406:
        asked = getattr(options, "add", "") or "those additions"
        return f"the pot does not have {asked}; it has: {', '.join(text) or '(none listed)'}"
    if status == 409:
        if retry.isdigit():
            return f"the pot is busy: try again in {retry} s"
        return said
    if status == 503 and retry.isdigit():
        return f"the pot is unavailable: {said} (try again in {retry} s)"
    return f"{status} {response.reason}: {said}"


def describe(options: argparse.Namespace, response: Response) -> tuple[bool, str]:
    """Whether C{response} is a success, and what to tell a person about it."""
    if 200 <= response.status < 300:
        return True, _success(options.command, response)
    return False, _failure(options, response)


def as_json(response: Response) -> str:
    body = _json_body(response)
    return json.dumps(
        {
            "status": response.status,
            "reason": response.reason,
            "headers": dict(response.headers),
            "body": body if body is not None else response.body.decode("utf-8", "replace"),
        },
        indent=2,
    )
