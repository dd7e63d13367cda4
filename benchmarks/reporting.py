"""The benchmark harness's Markdown tables.

Part of ``benchmarks/run.py``: the throughput of every load against every server (with the paired
ratios, CPU use and the load generator's capacity), memory with idle connections, the slow
clients and slow readers, TLS, the history at scale, the live pages, the parser, and last every
target with its measured median, whether it is met and how many rounds met it on their own.
"""

from __future__ import annotations

from typing import Any

from loads import Load
from peers import CEILING, CEILING_TLS, NATIVE, POT_TLS
from summaries import median, summarize
from targets import HISTORY_PAGES, MB, cut_off_with_408, fmt

NATIVE_COMPARED = ("keepalive", "pipelined", "fresh")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def throughput_tables(results: dict[str, Any], loads: tuple[Load, ...]) -> list[str]:
    """Rates and latencies, then CPU use, of every load and server; the loadgen's capacity."""
    rows, cpu_rows = [], []
    for load in loads:
        data = results["scenarios"].get(load.name)
        if not data:
            continue
        for kind in load.servers:
            summary = data["summary"].get(kind)
            is_subject = kind == load.servers[0]
            if summary is None:
                rows.append([load.title, kind] + ["not measured"] * 5)
                cpu_rows.append([load.title, kind] + ["not measured"] * 5)
                continue
            ratio = "—" if is_subject else fmt(data["ratios"].get(kind), ".2f")
            rows.append(
                [
                    load.title,
                    kind,
                    f"{summary['rps']:,.0f}",
                    ratio,
                    f"{summary['p50_ms']:.2f}",
                    f"{summary['p99_ms']:.2f}",
                    f"{summary['errors']} / {summary['non2xx']}",
                ]
            )
            per_cpu = "—" if is_subject else fmt(data["ratios_per_cpu"].get(kind), ".2f")
            cpu_rows.append(
                [
                    load.title,
                    kind,
                    f"{summary['loadgen_cpu']:.0%}",
                    f"{summary['server_cpu']:.0%}",
                    f"{summary['server_cpu_wait']:.0%}",
                    f"{summary['rps_per_cpu']:,.0f}",
                    per_cpu,
                ]
            )
    header = [
        "scenario",
        "server",
        "req/s",
        "subject ÷ server",
        "p50 ms",
        "p99 ms",
        "errors / non-2xx",
    ]
    out = [markdown_table(header, rows)]
    header = ["scenario", "server", "loadgen CPU", "server CPU", "server waiting for CPU"]
    out.append(markdown_table([*header, "req per server CPU-s", "subject ÷ server"], cpu_rows))
    capacity = []
    for name in NATIVE_COMPARED:
        summaries = results["scenarios"].get(name, {}).get("summary", {})
        native, ceiling = summaries.get(NATIVE), summaries.get(CEILING)
        if native and ceiling:
            capacity.append(
                [
                    name,
                    f"{native['rps']:,.0f}",
                    f"{native['loadgen_cpu']:.0%}",
                    f"{ceiling['rps']:,.0f}",
                    f"{ceiling['loadgen_cpu']:.0%}",
                    f"{native['rps'] / ceiling['rps']:.1f}",
                ]
            )
    if capacity:
        header = ["load", "native server req/s", "loadgen CPU", "ceiling req/s", "loadgen CPU"]
        out.append(markdown_table([*header, "native ÷ ceiling"], capacity))
    return out


def memory_table(memory: dict[str, Any]) -> list[str]:
    """RSS of each server with the idle connections."""
    rows = [
        [
            kind,
            state,
            f"{mem['held_by_server']:,}",
            f"{mem['rss_before_kib'] * 1024 / MB:.1f}",
            f"{mem['rss_with_kib'] * 1024 / MB:.1f}",
            fmt(mem["per_connection_bytes"], ",.0f"),
        ]
        for kind, states in memory.items()
        for state, mem in states.items()
    ]
    header = ["server", "idle connections", "held", "RSS before MB", "RSS with them MB"]
    return [markdown_table([*header, "bytes per connection"], rows)] if rows else []


def _normal_row(label: str, run: dict[str, Any]) -> list[str]:
    return [
        label,
        f"{run['rps']:,.0f}",
        f"{run['p50_us'] / 1000:.2f}",
        f"{run['p99_us'] / 1000:.2f}",
        f"{run['max_us'] / 1000:.2f}",
        f"{run['errors']} / {run['non2xx']}",
        f"{run['server_cpu']:.0%}",
    ]


NORMAL_HEADER = ["req/s", "p50 ms", "p99 ms", "max ms", "errors / non-2xx", "server CPU"]


def slowloris_tables(slow: dict[str, Any]) -> list[str]:
    """The normal client with and without the slow clients, and what became of the slow ones."""
    if not slow:
        return []
    rows = [
        _normal_row("alone", slow["normal_alone"]),
        _normal_row(f"with {slow['slow_clients']:,} slow clients", slow["normal_with_slow"]),
    ]
    normal = markdown_table([f"normal client ({slow['normal_client']})", *NORMAL_HEADER], rows)
    cut = slow["cut_off_s"]
    with_408 = cut_off_with_408(slow)
    others = sum(slow["statuses"].values()) - with_408
    rows = [
        ["opened", f"{slow['opened']:,} in {slow['open_seconds']:.2f} s"],
        ["answered 408", f"{with_408:,}"],
        [
            "other answers / closed unanswered / still open at the end",
            f"{others} / {slow['closed_without_answer']} / {slow['still_open']}",
        ],
        [
            "time from request line to answer: min / median / max (s)",
            "—" if cut is None else f"{cut['min']:.2f} / {cut['p50']:.2f} / {cut['max']:.2f}",
        ],
        ["most header lines one slow client sent", str(slow["headers_sent_max"])],
        [
            "server RSS without / with them (MB)",
            f"{slow['rss_before_kib'] * 1024 / MB:.1f} / {slow['rss_with_kib'] * 1024 / MB:.1f}",
        ],
        [
            "server open descriptors before / with them / after",
            f"{slow['fds_before']:,} / {slow['fds_with']:,} / {slow['fds_after']:,}",
        ],
    ]
    every, deadline = slow["interval_s"], slow["head_timeout_s"]
    title = f"slow clients (a line every {every:g} s, head deadline {deadline:g} s)"
    return [normal, markdown_table([title, "measured"], rows)]


def slow_reader_table(readers: dict[str, Any]) -> list[str]:
    """RSS and the normal client with the slow readers, plain and TLS."""
    rows = []
    for label, run in readers.items():
        rows.append(
            [
                label,
                f"{run['stalled']}",
                f"{run['sent_bytes'] / MB:.1f}",
                f"{run['rss_idle_kib'] * 1024 / MB:.1f}",
                f"{run['rss_peak_kib'] * 1024 / MB:.1f}",
                f"{run['rss_growth_mb']:.1f}",
                f"{run['normal_alone']['p99_us'] / 1000:.2f}",
                f"{run['normal_during']['p99_us'] / 1000:.2f}",
                f"{run['normal_during']['errors']} / {run['normal_during']['non2xx']}",
            ]
        )
    header = ["slow readers", "stalled", "MB sent", "RSS idle MB", "RSS with them MB", "growth MB"]
    header += ["normal p99 alone ms", "while filling ms", "stalled ms", "errors / non-2xx"]
    return [markdown_table(header, rows)] if rows else []


def tls_table(tls: dict[str, Any]) -> list[str]:
    """Connections per second over TLS, full and resumed handshakes, pot and ceiling."""
    rows = []
    for mode, by_kind in tls.items():
        for kind in (POT_TLS, CEILING_TLS):
            runs = by_kind.get(kind) or []
            if not runs:
                continue
            summary = summarize(runs)
            resumed = sum(r["resumed"] for r in runs)
            rows.append(
                [
                    mode,
                    kind,
                    f"{summary['rps']:,.0f}",
                    f"{summary['p50_ms']:.2f}",
                    f"{summary['p99_ms']:.2f}",
                    f"{resumed:,} of {summary['requests']:,}",
                    f"{summary['loadgen_cpu']:.0%}",
                    f"{summary['server_cpu']:.0%}",
                    f"{summary['errors']} / {summary['non2xx']}",
                ]
            )
    header = [
        "handshakes",
        "server",
        "conn/s",
        "p50 ms",
        "p99 ms",
        "resumed",
        "client CPU",
        "server CPU",
    ]
    return [markdown_table([*header, "errors / non-2xx"], rows)] if rows else []


def history_table(history: dict[str, Any]) -> list[str]:
    """Median p50 of every page at every size, and the start-up; the CSV export."""
    if not history:
        return []
    rows = []
    for size in history["sizes"]:
        cells = [f"{size:,}", fmt(median(history["startup_s"].get(size, [])), ".2f")]
        for page in HISTORY_PAGES:
            p50s = [
                r["p50_us"] / 1000
                for r in history["runs"]
                if r["size"] == size and r["page"] == page
            ]
            cells.append(fmt(median(p50s), ".2f"))
        rows.append(cells)
    out = [markdown_table(["brews", "start-up s", *(f"{p} p50 ms" for p in HISTORY_PAGES)], rows)]
    export = history.get("export")
    if export:
        done = "whole" if export["complete"] else f"first {export['limit_s']:g} s"
        out.append(
            markdown_table(
                [
                    "CSV export",
                    "lines",
                    "MB",
                    "s",
                    "rows/s",
                    "RSS before MB",
                    "RSS peak MB",
                    "growth MB",
                ],
                [
                    [
                        done,
                        f"{export['lines']:,}",
                        f"{export['bytes'] / MB:.1f}",
                        f"{export['seconds']:.1f}",
                        f"{export['rows_per_second']:,}",
                        f"{export['rss_before_kib'] * 1024 / MB:.1f}",
                        f"{export['rss_peak_kib'] * 1024 / MB:.1f}",
                        f"{export['rss_growth_mb']:.1f}",
                    ]
                ],
            )
        )
    return out


def live_table(live: dict[str, Any]) -> list[str]:
    """The live pages: RSS and one change reaching them."""
    if not live:
        return []
    row = [
        f"{live['open']:,} ({live['ready']:,} ready)",
        f"{live['rss_before_kib'] * 1024 / MB:.1f}",
    ]
    row += [f"{live['rss_with_kib'] * 1024 / MB:.1f}", f"{live['rss_growth_mb']:.1f}"]
    row += [
        f"{live.get('within', 0):,} of {live['pages']:,}",
        fmt(live.get("p50_ms"), ".1f"),
        fmt(live.get("max_ms"), ".1f"),
    ]
    header = [
        "live pages",
        "RSS before MB",
        "RSS with them MB",
        "growth MB",
        f"saw the change in {live['within_s']:g} s",
    ]
    return [markdown_table([*header, "p50 ms", "max ms"], [row])]


def parser_table(parser: dict[str, Any]) -> list[str]:
    """The response parser's median times, one segment and 1 KiB segments."""
    rounds = parser.get("rounds", [])
    if not rounds:
        return []
    whole = median([r["one_segment_s"] * 1000 for r in rounds])
    pieces = median([r["segmented_s"] * 1000 for r in rounds])
    header = [
        "ResponseParser, 1 MiB body",
        "one segment ms",
        "1 KiB segments ms",
        "ratio (median of rounds)",
    ]
    row = [
        "median of rounds",
        fmt(whole, ".2f"),
        fmt(pieces, ".2f"),
        fmt(median([r["ratio"] for r in rounds]), ".2f"),
    ]
    return [markdown_table(header, [row])]


def report(results: dict[str, Any], loads: tuple[Load, ...]) -> str:
    """The results as Markdown tables."""
    out = throughput_tables(results, loads)
    out += memory_table(results["memory"]) + slowloris_tables(results["slowloris"])
    out += slow_reader_table(results.get("slow_readers", {})) + tls_table(results.get("tls", {}))
    out += history_table(results.get("history", {})) + live_table(results.get("live", {}))
    out += parser_table(results.get("parser", {}))
    verdict = {True: "met", False: "NOT met", None: "not measured"}
    rows = [
        [t["target"], t["measured"], verdict[t["met"]], t["rounds"]] for t in results["targets"]
    ]
    header = ["target", "measured (median)", "result", "rounds meeting it alone (range)"]
    out.append(markdown_table(header, rows))
    out += [f"- {kind}: {note.splitlines()[0]}" for kind, note in results["notes"].items()]
    return "\n\n".join(out)
