# -*- test-case-name: tests.test_web_routes -*-
"""
Charts for the history page, drawn as inline SVG on the server.

No script and no style attribute (the Content-Security-Policy allows
neither inline): shapes carry classes, and the stylesheet colours them for
the light and the dark theme.  Each chart has a title and a text
alternative, and each bar a tooltip with its number.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from twisted.web.template import Tag, tags

__all__ = ["brews_over_time", "popular_additions"]

WIDTH: Final = 600
HEIGHT: Final = 200
MAX_BARS: Final = 48
MIN_BARS: Final = 12
BUCKETS: Final = (
    (300, "%H:%M", "5 minutes"),
    (3600, "%H:%M", "hour"),
    (86400, "%d %b", "day"),
    (7 * 86400, "%d %b", "week"),
    (30 * 86400, "%b %Y", "30 days"),
)


def _svg(name: str, attributes: Mapping[str, object], *children: Any) -> Tag:
    tag = Tag(name, attributes={k: str(v) for k, v in attributes.items()})
    return tag(*children)


def _chart(label: str, height: int, *children: Any) -> Tag:
    return _svg(
        "svg",
        {
            "viewBox": f"0 0 {WIDTH} {height}",
            "class": "chart",
            "role": "img",
            "aria-label": label,
            "preserveAspectRatio": "xMidYMid meet",
        },
        _svg("title", {}, label),
        *children,
    )


def _bucket(times: Sequence[float]) -> tuple[int, str, str]:
    span = max(times) - min(times)
    for size, label_format, name in BUCKETS:
        if span / size < MAX_BARS:
            return size, label_format, name
    size = math.ceil(span / MAX_BARS / 86400) * 86400
    return size, "%b %Y", f"{size // 86400} days"


def brews_over_time(brews: Iterable[Mapping[str, Any]]) -> Tag:
    """A bar chart of how many brews started in each period."""
    times = [float(b["started"]) for b in brews if isinstance(b.get("started"), (int, float))]
    if not times:
        return tags.p(class_="empty")("No brews yet: nothing to chart.")
    size, label_format, name = _bucket(times)
    first = math.floor(min(times) / size) * size
    last = math.floor(max(times) / size) * size
    first = min(first, last - (MIN_BARS - 1) * size)
    counts = Counter(int((t - first) // size) for t in times)
    bars = max(counts) + 1
    highest = max(counts.values())
    plot_top, plot_bottom, left = 20, HEIGHT - 30, 40
    slot = (WIDTH - left) / bars
    shapes = []
    for index in range(bars):
        count = counts.get(index, 0)
        bar_height = (plot_bottom - plot_top) * count / highest
        when = time.strftime(label_format, time.gmtime(first + index * size))
        shapes.append(
            _svg(
                "rect",
                {
                    "class": "bar",
                    "x": f"{left + index * slot + slot * 0.1:.1f}",
                    "y": f"{plot_bottom - bar_height:.1f}",
                    "width": f"{max(slot * 0.8, 1):.1f}",
                    "height": f"{bar_height:.1f}",
                },
                _svg("title", {}, f"{when} UTC: {count} brew{'s' * (count != 1)}"),
            )
        )
    start = time.strftime(label_format, time.gmtime(first))
    end = time.strftime(label_format, time.gmtime(first + (bars - 1) * size))
    axis = {"class": "axis-label"}
    return _chart(
        f"Brews per {name}, {start} to {end} (UTC)",
        HEIGHT,
        _svg(
            "line", {"class": "axis", "x1": left, "y1": plot_bottom, "x2": WIDTH, "y2": plot_bottom}
        ),
        _svg(
            "text", {**axis, "x": left - 6, "y": plot_top + 4, "text-anchor": "end"}, str(highest)
        ),
        _svg("text", {**axis, "x": left - 6, "y": plot_bottom, "text-anchor": "end"}, "0"),
        _svg("text", {**axis, "x": left, "y": HEIGHT - 8}, start),
        _svg("text", {**axis, "x": WIDTH, "y": HEIGHT - 8, "text-anchor": "end"}, end),
        *shapes,
    )


def popular_additions(brews: Iterable[Mapping[str, Any]], top: int = 8) -> Tag:
    """Horizontal bars of the additions asked for most."""
    counts = Counter(str(a) for b in brews for a in b.get("additions") or ())
    ranked = counts.most_common(top)
    if not ranked:
        return tags.p(class_="empty")("No additions asked for yet.")
    row, left, label_width = 24, 150, 140
    highest = ranked[0][1]
    height = row * len(ranked) + 8
    shapes = []
    for index, (name, count) in enumerate(ranked):
        y = 4 + index * row
        width = (WIDTH - left - 50) * count / highest
        shapes += [
            _svg(
                "text",
                {"class": "bar-label", "x": label_width, "y": y + 16, "text-anchor": "end"},
                name,
            ),
            _svg(
                "rect",
                {
                    "class": "bar bar-addition",
                    "x": left,
                    "y": y + 3,
                    "width": f"{width:.1f}",
                    "height": row - 8,
                },
                _svg("title", {}, f"{name}: {count}"),
            ),
            _svg(
                "text",
                {"class": "bar-value", "x": f"{left + width + 6:.1f}", "y": y + 16},
                str(count),
            ),
        ]
    return _chart("The most popular additions", height, *shapes)
