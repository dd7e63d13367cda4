# -*- test-case-name: tests.test_history_resource -*-
"""
The pot server's C{log} resource: the brew history, a page at a time as
JSON, or all of it as CSV.

    GET /log?page=2&per_page=50&pot=ducky     a page, newest first, with totals
    GET /log?before=123456                    the page after the brew whose seq is 123456
    GET /log?format=csv  (or Accept: text/csv) every brew, newest first, streamed

A JSON page carries C{next}, the cursor of its last brew when older ones
follow: asking C{before=} it gives the next page, and stays right while
brews are added (page numbers shift as the history grows).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qs

from twisted.internet.defer import Deferred

from htcpcp.history_stream import StreamedReply
from htcpcp.message import Request
from htcpcp.reply import JSON, Reply, read_only, text_reply
from htcpcp.storage import History, HistoryPage, Slice
from htcpcp.urls import Target

__all__ = ["CSV", "CSV_COLUMNS", "MAX_PAGE", "MAX_PAGE_SIZE", "LogResource", "csv_rows"]

MAX_PAGE_SIZE: Final = 200
MAX_PAGE: Final = 10**9
MAX_CURSOR: Final = 2**62
CSV: Final = "text/csv; charset=utf-8"
CSV_BATCH: Final = 1000
"""Brews read and sent per piece of a CSV export."""
CSV_COLUMNS: Final = (
    "seq",
    "id",
    "pot",
    "beverage",
    "variety",
    "additions",
    "bean",
    "milk",
    "started",
    "brew_end",
    "pour_start",
    "pour_stop",
    "stopped",
    "outcome",
    "strength",
    "resumed",
)
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _iso_timestamp(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{int(seconds % 1 * 1000):03d}Z"


def _safe(text: str | None) -> str:
    """Text for a spreadsheet cell that it will not run as a formula."""
    if not text:
        return ""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _line(record: Mapping[str, Any]) -> tuple[object, ...]:
    """A brew as the cells of L{CSV_COLUMNS}: times in ISO 8601 UTC, text kept from formulas."""
    bean = record["bean"]
    return (
        record["seq"],
        record["id"],
        _safe(record["pot"]),
        _safe(record["beverage"]),
        _safe(record["variety"]),
        _safe("; ".join(record["additions"])),
        _safe(bean["name"]) if isinstance(bean, Mapping) else "",
        int(record["milk"]),
        _iso_timestamp(record["started"]),
        _iso_timestamp(record["brew_end"]),
        _iso_timestamp(record["pour_start"]),
        _iso_timestamp(record["pour_stop"]),
        _iso_timestamp(record["stopped"]),
        record["outcome"],
        record["strength"],
        int(record["resumed"]),
    )


def csv_rows(records: Iterable[Mapping[str, Any]], header: bool = False) -> bytes:
    """Brews as CSV lines (RFC 4180, CRLF), with the header line first if asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    writer.writerows(map(_line, records))
    return out.getvalue().encode("utf-8")


def _accept_quality(accept: str, wanted: str) -> float:
    """The q an Accept header gives C{wanted} (exact type, then C{type/*}, then C{*/*})."""
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(",")[:50]:
        media, *params = (part.strip().lower() for part in item.split(";"))
        rank = 2 if media == wanted else 1 if media == wanted.split("/")[0] + "/*" else 0
        if media != "*/*" and rank == 0:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = max(best, (rank, q))
    return best[1]


def _wants_csv(request: Request, query: Mapping[str, list[str]]) -> bool | None:
    """Whether the answer is CSV, from C{format=} or Accept; C{None} for an unknown format."""
    chosen = query.get("format", [""])[0].lower()
    if chosen:
        return {"csv": True, "json": False}.get(chosen)
    accept = request.headers.get("accept")
    if not accept:
        return False
    return _accept_quality(accept, "text/csv") > _accept_quality(accept, "application/json")


def _whole(query: Mapping[str, list[str]], name: str, default: int, top: int) -> int | None:
    """A query parameter as a whole number from 1 to C{top}; C{None} if it is not one."""
    raw = query.get(name, [str(default)])[0].strip()
    if not raw.isdigit() or len(raw) > len(str(top)) or not 1 <= int(raw) <= top:
        return None
    return int(raw)


class LogResource:
    """Answers requests for C{log}; C{history} C{None} means the server keeps none."""

    def __init__(self, history: History | None) -> None:
        self._history = history

    def answer(self, request: Request, target: Target) -> Reply | Deferred[Reply]:
        """The answer to C{request} for the log; never raises for what a client sends."""
        refusal = read_only(request, "the log")
        if refusal is not None:
            return refusal
        if self._history is None:
            return text_reply(404, "this server keeps no history")
        query = parse_qs(target.query, keep_blank_values=True, max_num_fields=10)
        page = _whole(query, "page", 1, MAX_PAGE)
        per_page = _whole(query, "per_page", 50, MAX_PAGE_SIZE)
        before = _whole(query, "before", 1, MAX_CURSOR) if "before" in query else None
        if page is None or per_page is None or ("before" in query and before is None):
            return text_reply(
                400,
                f"page must be 1 to {MAX_PAGE:,}, per_page 1 to {MAX_PAGE_SIZE},"
                " before a brew's seq (a page's next)",
            )
        csv_wanted = _wants_csv(request, query)
        if csv_wanted is None:
            return text_reply(400, "format must be json or csv")
        chosen = Slice(query.get("pot", [None])[0], before)
        if csv_wanted:
            return self._export(chosen)
        if before is None:  # the history's interface before cursors, as stand-ins have it
            listing = self._history.page(chosen.pot, page, per_page)
        else:
            listing = self._history.page(chosen.pot, page, per_page, before)
        return listing.addCallback(self._page)

    @staticmethod
    def _page(page: HistoryPage) -> Reply:
        return Reply(200, json.dumps(page).encode("utf-8"), JSON, (("Vary", "Accept"),))

    def _export(self, chosen: Slice) -> Deferred[Reply]:
        history = self._history
        assert history is not None

        def pieces(cursor: int | None) -> Deferred[tuple[bytes, int | None]]:
            return history.batch(Slice(chosen.pot, cursor), CSV_BATCH, csv_rows)

        streamed = StreamedReply(
            CSV,
            (
                ("Vary", "Accept"),
                ("Content-Disposition", 'attachment; filename="htcpcp-history.csv"'),
            ),
            csv_rows((), header=True),
            pieces,
            chosen.before,
        )
        done: Deferred[Any] = Deferred()
        done.callback(streamed)
        return done
