"""Benchmark harness for the htcpcp pot server: ``python benchmarks/run.py [--quick]``.

The harness compiles the C load generator (``loadgen.c``) and a native canned server
(``nativeserver.c``) with gcc into a temporary directory, starts every server under test as a
subprocess pinned to one core with ``taskset`` (the load generator runs pinned to another core) and
measures them in the same run, alternating the servers within every round and rotating their order
from round to round (``scenarios.py``, ``peers.py``):

* keep-alive GET (50 connections), pipelined GET (depth 16), connection per request, BREW
  start/stop cycles on one connection, and durable BREW cycles from 64 connections on 64 pots,
  against the pot server, the ceiling (``ceiling.py``: a LineReceiver that answers with canned
  bytes) and plain twisted.web (``twistedweb_peer.py``); the web front end's home page against
  twisted.web serving the same HTML from memory;
* ``tls``: one request per TLS connection, full and resumed handshakes, against the ceiling behind
  the pot's own TLS context (``tls_scenario.py``);
* ``history``: ``/log`` pages and the web's ``/history`` at 1k, 100k and 1M brews, start-up with
  each, and a 1M-brew CSV export's RSS (``history_scenario.py``);
* memory with 10,000 idle connections; slowloris (1,000 clients trickling a head until cut off
  with 408); 300 slow readers plain and over TLS (``slow_scenarios.py``); 1,000 live pages on the
  web front end (``live_scenario.py``); the client's response parser (``parser_bench.py``).

Every server and load generator runs in a session of its own at niceness ``--nice`` (-10 when
permitted), so other work on a shared machine takes less of the pinned cores; how long each server
still waited for its core is reported, with its throughput per CPU-second as a cross-check.

It prints medians and paired ratios as Markdown tables (``reporting.py``), every target of
issues 11 and 16 with the rounds meeting it (``targets.py``), and writes
``benchmarks/results.json``.
A pot server that cannot be started is skipped with the reason. ``docs/performance.md`` describes
the method and the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from history_scenario import measure_history
from live_scenario import measure_live
from loads import Load
from peers import CEILING, NATIVE, TWISTED_WEB, TWISTED_WEB_HTML, Bench, Settings, probe_pot
from processes import BENCH_DIR, compile_tools, git_commit, machine_info, raise_fd_limit
from reporting import report
from scenarios import THROUGHPUT, measure_memory, measure_throughput
from slow_scenarios import measure_slow_readers, measure_slowloris
from summaries import paired_ratio, rps_per_cpu, summarize
from targets import target_rows
from tls_scenario import measure_tls

CONTENDED = 0.10
"""A single-threaded peer waiting for a CPU this much of a run means the machine was busy."""
FULL = Settings(rounds=11, seconds=1.5, warmup=0.5, idle_connections=10_000, quick=False)
QUICK = Settings(rounds=2, seconds=0.5, warmup=0.2, idle_connections=10_000, quick=True)
OTHER_SCENARIOS = ("memory", "slowloris", "slow_readers", "tls", "history", "live", "parser")


def measure_parser(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """``parser_bench.py`` for the configured rounds, pinned to the servers' core."""
    argv = [
        sys.executable,
        str(BENCH_DIR / "parser_bench.py"),
        "--rounds",
        str(bench.settings.rounds),
    ]
    proc = subprocess.run(
        bench.pinned(bench.server_cpu, argv), capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        notes["parser"] = f"not measured: {proc.stderr.strip()[-300:]}"
        return {}
    result: dict[str, Any] = json.loads(proc.stdout)
    print(f"parser: ratios {[round(r['ratio'], 2) for r in result['rounds']]}", file=sys.stderr)
    return result


def scenario_results(
    runs: dict[str, dict[str, list[dict[str, Any]]]], loads: list[Load]
) -> dict[str, Any]:
    """Each load's runs with their medians and paired ratios."""
    out = {}
    for load in loads:
        by_server = runs[load.name]
        subject = load.servers[0]
        compared = [kind for kind in by_server if kind not in (subject, NATIVE)]
        out[load.name] = {
            "title": load.title,
            "connections": load.connections,
            "depth": load.depth,
            "fresh": load.fresh,
            "requests": [r.decode("latin-1") for r in load.requests],
            "summary": {kind: summarize(r) for kind, r in by_server.items() if r},
            "ratios": {
                kind: paired_ratio(by_server[subject], by_server[kind]) for kind in compared
            },
            "ratios_per_cpu": {
                kind: paired_ratio(by_server[subject], by_server[kind], rps_per_cpu)
                for kind in compared
            },
            "runs": by_server,
        }
    return out


def contention_note(scenarios: dict[str, Any]) -> str | None:
    """A note when the single-threaded Python peers waited long for a CPU."""
    waits = [
        summary["server_cpu_wait"]
        for data in scenarios.values()
        for kind, summary in data["summary"].items()
        if kind in (CEILING, TWISTED_WEB, TWISTED_WEB_HTML)
    ]
    if waits and max(waits) > CONTENDED:
        return (
            f"other processes kept the servers waiting for a CPU up to {max(waits):.0%} of the"
            " time (median of a scenario); absolute numbers are low and ratios less reliable"
        )
    return None


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Benchmark the htcpcp pot server against its ceiling and twisted.web."
    )
    parser.add_argument("--quick", action="store_true", help="2 short rounds (under 2 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds per scenario")
    parser.add_argument("--seconds", type=float, help="measured seconds per run")
    names = [s.name for s in THROUGHPUT] + list(OTHER_SCENARIOS)
    parser.add_argument("--only", help="comma-separated subset: " + ", ".join(names))
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness of the servers and load generator (default -10, if permitted; 0 to keep)",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.json", help="where to write the JSON"
    )
    return parser.parse_args()


def main() -> None:
    """Parse arguments, measure, print the tables and write the JSON results."""
    args = parse_args()
    base = QUICK if args.quick else FULL
    settings = Settings(
        args.rounds or base.rounds,
        args.seconds or base.seconds,
        base.warmup,
        base.idle_connections,
        base.quick,
    )
    wanted = set(args.only.split(",")) if args.only else None
    loads = [s for s in THROUGHPUT if wanted is None or s.name in wanted]
    fd_limit = raise_fd_limit(settings.idle_connections + 1024)
    if fd_limit < settings.idle_connections + 64:
        settings = Settings(
            settings.rounds, settings.seconds, settings.warmup, fd_limit - 64, settings.quick
        )
    started_at = time.time()
    machine = machine_info()
    other: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="htcpcp-bench-") as tmp:
        work_dir = Path(tmp)
        pot = probe_pot()
        if pot.reason:
            print(f"pot server unavailable: {pot.reason}", file=sys.stderr)
        bench = Bench(settings, compile_tools(work_dir), work_dir, pot, args.nice)
        notes: dict[str, str] = {}
        if bench.server_cpu is None:
            notes["pinning"] = "not pinned: taskset or a second CPU is missing"
        runs, body_size, durability = measure_throughput(bench, loads, notes)
        measures: dict[str, Callable[[Bench, dict[str, str]], Any]] = {
            "memory": measure_memory,
            "slowloris": measure_slowloris,
            "slow_readers": measure_slow_readers,
            "tls": measure_tls,
            "history": measure_history,
            "live": measure_live,
            "parser": measure_parser,
        }
        for name, measure in measures.items():
            other[name] = measure(bench, notes) if wanted is None or name in wanted else {}
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "duration_seconds": round(time.time() - started_at, 1),
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "commit": git_commit(),
        "machine": machine,
        "load_average_at_end": list(os.getloadavg()),
        "settings": {**settings.__dict__, "fd_limit": fd_limit},
        "pinning": {"server_cpu": bench.server_cpu, "loadgen_cpu": bench.client_cpu},
        "niceness": bench.nice,
        "scenarios": scenario_results(runs, loads),
        "durability": durability,
        **other,
        "get_body_bytes": body_size,
        "notes": notes,
    }
    note = contention_note(results["scenarios"])
    if note:
        notes["contention"] = note
    results["targets"] = target_rows(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results, tuple(loads)))
    print(f"\nwrote {args.output} in {results['duration_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
