"""The performance targets of issues 11 and 16, checked against a run's results.

Part of ``benchmarks/run.py``. Each target is a measured figure (a median over rounds, or a
single measurement), a comparison and a bound; where there are rounds, it also says how many met
the target on their own and their range. Throughput targets are ratios against a ceiling measured
in the same run; the history's are its 1M-brew pages against the same pages at 1k brews.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peers import (
    CEILING,
    CEILING_TLS,
    POT,
    POT_POTS,
    POT_TLS,
    POT_WEB,
    TWISTED_WEB,
    TWISTED_WEB_HTML,
)
from summaries import Run, by_round, median, p50_ms, round_ratios

MB = 1_000_000
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda value, bound: value >= bound,
    "<=": lambda value, bound: value <= bound,
    "<": lambda value, bound: value < bound,
}
HISTORY_PAGES = (
    "log first page",
    "log middle page",
    "log last page",
    "log ?pot=tea",
    "web /history",
)


@dataclass(frozen=True)
class Target:
    """A figure and its bound: ``value`` (None when not measured) ``op`` ``bound``."""

    name: str
    value: float | None
    per_round: tuple[float, ...]
    op: str
    bound: float
    spec: str = ".2f"


def meets(value: float, op: str, bound: float) -> bool:
    """Whether ``value`` is on the right side of a target's ``bound``."""
    return COMPARE[op](value, bound)


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or 'not measured'."""
    return "not measured" if value is None else format(value, spec)


def _throughput(results: dict[str, Any]) -> list[Target]:
    scenarios = results["scenarios"]

    def runs(scenario: str, kind: str) -> list[Run]:
        found: list[Run] = scenarios.get(scenario, {}).get("runs", {}).get(kind, [])
        return found

    def ratio(name: str, scenario: str, subject: str, other: str, op: str, bound: float) -> Target:
        value = scenarios.get(scenario, {}).get("ratios", {}).get(other)
        per = round_ratios(runs(scenario, subject), runs(scenario, other))
        return Target(name, value, tuple(per), op, bound)

    keepalive = scenarios.get("keepalive", {}).get("summary", {}).get(POT, {})
    durable = results.get("durability", {})
    return [
        ratio("keep-alive GET / ceiling", "keepalive", POT, CEILING, ">=", 0.6),
        ratio("keep-alive GET / twisted.web", "keepalive", POT, TWISTED_WEB, ">=", 2.0),
        ratio("pipelined GET / ceiling", "pipelined", POT, CEILING, ">=", 0.4),
        ratio("connection per request / ceiling", "fresh", POT, CEILING, ">=", 0.8),
        ratio(
            "durable BREW cycles, several pots / ceiling", "brew_pots", POT_POTS, CEILING, ">=", 0.5
        ),
        Target(
            "BREW changes acknowledged and found in the history after kill -9 (share)",
            None if not durable else float(durable["all_durable"]),
            (),
            ">=",
            1.0,
        ),
        Target(
            "p99 latency at 50 connections (ms)",
            keepalive.get("p99_ms"),
            tuple(r["p99_us"] / 1000 for r in runs("keepalive", POT)),
            "<",
            20.0,
        ),
        ratio("web home page / twisted.web", "web", POT_WEB, TWISTED_WEB_HTML, ">=", 0.5),
    ]


def _tls(results: dict[str, Any]) -> list[Target]:
    tls = results.get("tls", {})
    full, resumed = tls.get("full", {}), tls.get("resumed", {})
    per = round_ratios(full.get(POT_TLS, []), full.get(CEILING_TLS, []))
    per_resumed = round_ratios(resumed.get(POT_TLS, []), full.get(POT_TLS, []))
    return [
        Target("TLS connection per request / TLS ceiling", median(per), tuple(per), ">=", 0.8),
        Target(
            "TLS resumed ÷ full handshakes per second (pot)",
            median(per_resumed),
            tuple(per_resumed),
            ">=",
            1.0,
        ),
    ]


def _memory(results: dict[str, Any]) -> list[Target]:
    pot_memory = results["memory"].get(POT, {})
    worst = max((m["rss_with_kib"] * 1024 / MB for m in pot_memory.values()), default=None)
    slow = results["slowloris"]
    targets = [
        Target(
            f"RSS with {results['settings']['idle_connections']:,} idle connections (MB)",
            worst,
            (),
            "<",
            200.0,
            ".1f",
        ),
        Target(
            f"share of {slow.get('slow_clients', 0):,} slow clients cut off with 408",
            cut_off_with_408(slow) / slow["slow_clients"] if slow else None,
            (),
            ">=",
            1.0,
        ),
    ]
    readers = results.get("slow_readers", {})
    for label in ("plain", "tls"):
        run = readers.get(label)
        targets += [
            Target(
                f"RSS growth with 300 slow readers, {label} (MB)",
                None if run is None else run["rss_growth_mb"],
                (),
                "<=",
                50.0,
                ".1f",
            ),
            Target(
                f"normal client's p99 during the slow readers, {label} (ms)",
                None if run is None else run["normal_during"]["p99_us"] / 1000,
                (),
                "<=",
                50.0,
            ),
            Target(
                f"normal client's p99 while the slow readers fill the buffers, {label} (ms)",
                None if run is None else run["normal_filling"]["p99_us"] / 1000,
                (),
                "<=",
                50.0,
            ),
        ]
    live = results.get("live", {})
    targets += [
        Target(
            f"RSS growth with {live.get('pages', 1000):,} live pages (MB)",
            live.get("rss_growth_mb"),
            (),
            "<=",
            30.0,
            ".1f",
        ),
        Target(
            f"share of live pages that saw a change within {live.get('within_s', 1.0):g} s",
            live["within"] / live["pages"] if live.get("pages") else None,
            (),
            ">=",
            1.0,
        ),
    ]
    return targets


def _history(results: dict[str, Any]) -> list[Target]:
    history = results.get("history", {})
    runs: list[Run] = history.get("runs", [])
    sizes = history.get("sizes") or [1_000, 1_000_000]
    small, large = sizes[0], sizes[-1]
    targets = []
    slowest: dict[int, float] = {}
    for page in HISTORY_PAGES:
        per = round_ratios(
            by_round(runs, page=page, size=large), by_round(runs, page=page, size=small), p50_ms
        )
        targets.append(
            Target(f"{page} p50, {large:,} ÷ {small:,} brews", median(per), tuple(per), "<=", 2.0)
        )
        if page.startswith("log"):
            for run in by_round(runs, page=page, size=large):
                slowest[run["round"]] = max(slowest.get(run["round"], 0.0), p50_ms(run))
    per_slowest = tuple(slowest[r] for r in sorted(slowest))
    startups = tuple(
        history.get("startup_s", {}).get(str(large), history.get("startup_s", {}).get(large, []))
    )
    export = history.get("export", {})
    return [
        *targets,
        Target(
            f"/log p50 at {large:,} brews, slowest page (ms)",
            median(list(per_slowest)),
            per_slowest,
            "<",
            20.0,
        ),
        Target(
            f"start-up to listening with {large:,} brews (s)",
            median(list(startups)),
            startups,
            "<",
            2.0,
        ),
        Target(
            f"RSS growth during a {large:,}-brew CSV export (MB)",
            export.get("rss_growth_mb"),
            (),
            "<",
            20.0,
            ".1f",
        ),
    ]


def _parser(results: dict[str, Any]) -> list[Target]:
    rounds = results.get("parser", {}).get("rounds", [])
    per = tuple(r["ratio"] for r in rounds)
    return [
        Target(
            "ResponseParser, 1 MiB in 1 KiB segments ÷ one segment",
            median(list(per)),
            per,
            "<=",
            2.0,
        )
    ]


def cut_off_with_408(slow: dict[str, Any]) -> int:
    """How many slow clients were answered 408."""
    return sum(n for line, n in slow.get("statuses", {}).items() if line.split()[1:2] == ["408"])


def target_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target with its measured value, whether it is met, and its rounds."""
    rows = []
    targets = _throughput(results) + _tls(results) + _memory(results)
    for target in targets + _history(results) + _parser(results):
        met = None if target.value is None else meets(target.value, target.op, target.bound)
        per = target.per_round
        rounds = (
            f"{sum(meets(each, target.op, target.bound) for each in per)} of {len(per)}"
            f" ({fmt(min(per), target.spec)} to {fmt(max(per), target.spec)})"
            if per
            else "—"
        )
        rows.append(
            {
                "target": f"{target.name} {target.op} {target.bound:.3g}",
                "measured": fmt(target.value, target.spec),
                "met": met,
                "rounds": rounds,
            }
        )
    return rows
