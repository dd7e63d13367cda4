# -*- test-case-name: tests.test_web_routes -*-
"""
The JSON documents of the API, which mirror the pages.

The live event stream sends L{snapshot_document} too, so a script reads one
shape whether it polls C{api/pots} or listens to C{events}.  Times left are
corrected for the snapshot's age when the document is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from htcpcp.client import Exchange
from htcpcp.message import Response
from htcpcp.web.pots.diagnostics import Diagnostic
from htcpcp.web.pots.errors import ErrorPage
from htcpcp.web.pots.inspector import method_of, shown
from htcpcp.web.pots.labels import TIMER_LABELS, clock_text, state_label
from htcpcp.web.pots.model import PotInfo, PotView, Snapshot

__all__ = [
    "beans_document",
    "diagnostic_document",
    "error_document",
    "exchange_document",
    "info_document",
    "pot_document",
    "snapshot_document",
]


def pot_document(view: PotView, age: float = 0.0) -> dict[str, Any]:
    """One pot: its catalogue, state, words for it, and its status as the pot gave it."""
    info = view.info
    seconds = round(max(0.0, view.seconds_left - age), 1)
    return {
        **info_document(info),
        "state": view.state,
        "label": state_label(view),
        "summary": view.summary(),
        "seconds_left": seconds,
        "clock": clock_text(seconds),
        "timer_label": TIMER_LABELS.get(view.state, ""),
        "status": dict(view.status),
    }


def info_document(info: PotInfo) -> dict[str, Any]:
    return {
        "index": info.index,
        "name": info.name,
        "kind": info.kind,
        "brew_time": info.brew_time,
        "pour_time": info.pour_time,
        "additions": list(info.additions),
        "varieties": dict(info.varieties),
    }


def snapshot_document(snapshot: Snapshot, now: float) -> dict[str, Any]:
    """Every pot's status, or the problem that hides them."""
    age = max(0.0, now - snapshot.taken)
    return {
        "ok": snapshot.problem is None,
        "problem": asdict(snapshot.problem) if snapshot.problem else None,
        "pots": [pot_document(view, age) for view in snapshot.pots],
    }


def error_document(error: ErrorPage) -> dict[str, Any]:
    return {"error": asdict(error)}


def exchange_document(exchange: Exchange) -> dict[str, Any]:
    return {
        "endpoint": exchange.endpoint,
        "method": method_of(exchange),
        "request": shown(exchange.request),
        "response": shown(exchange.response) if exchange.response is not None else None,
        "status": exchange.status,
        "started": exchange.started,
        "elapsed": exchange.elapsed,
        "error": exchange.error,
    }


def diagnostic_document(diagnostic: Diagnostic, answer: Response) -> dict[str, Any]:
    return {
        "test": diagnostic.code,
        "title": diagnostic.title,
        "request": shown(diagnostic.request),
        "status": answer.status,
        "reason": answer.reason,
        "response": shown(answer.raw),
    }


def beans_document(info: PotInfo, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"pot": info_document(info), "propfind": dict(body)}
