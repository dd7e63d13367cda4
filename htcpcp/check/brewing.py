# -*- test-case-name: tests.test_check -*-
"""
Reading the lab's brew JSON: its local-time stamps, and how long to wait
until a brew has finished (so the milk pours and WHEN can be said).
"""

from __future__ import annotations

import datetime
from typing import Any, Final

__all__ = ["LAB_TIME_FORMAT", "brew_seconds", "lab_time"]

LAB_TIME_FORMAT: Final = "%a, %d %b %Y %H:%M:%S"
"""The lab's time format (its C{TIME_STRING_FORMAT}), in the server's local time."""


def lab_time(value: object) -> datetime.datetime | None:
    """C{value} read as a lab time stamp, or C{None}."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.strptime(value, LAB_TIME_FORMAT)
    except ValueError:
        return None


def brew_seconds(brew: Any) -> float | None:
    """How long the brew in the lab JSON C{brew} takes (C{brew_time_end} - C{date})."""
    if not isinstance(brew, dict):
        return None
    started, ends = lab_time(brew.get("date")), lab_time(brew.get("brew_time_end"))
    if started is None or ends is None:
        return None
    return (ends - started).total_seconds()
