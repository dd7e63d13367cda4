# -*- test-case-name: tests.test_web_routes -*-
"""
The words the front end shows for a pot's state and time, shared by the
HTML pages and the JSON API (which imports no HTML).
"""

from __future__ import annotations

import math
from typing import Final

from htcpcp.web.pots.model import PotView

__all__ = ["STATE_LABELS", "TIMER_LABELS", "clock_text", "state_label"]

STATE_LABELS: Final = {
    "idle": "Empty",
    "brewing": "Brewing",
    "pouring": "Pouring milk",
    "ready": "Ready",
    "unknown": "Unknown",
}
TIMER_LABELS: Final = {"brewing": "Ready in", "pouring": "Stops pouring by itself in"}


def clock_text(seconds: float) -> str:
    """Seconds as C{m:ss}, rounded up (a countdown never shows 0:00 early)."""
    whole = max(0, math.ceil(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def state_label(view: PotView) -> str:
    """The words for a pot's state; a brew stopped early says so."""
    if view.state == "ready" and view.outcome == "stopped":
        return "Stopped early"
    return STATE_LABELS[view.state]
