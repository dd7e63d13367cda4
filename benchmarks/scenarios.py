"""The throughput and memory scenarios of the benchmark harness.

Part of ``benchmarks/run.py``. Every round runs each load once against each of its servers, one
after another, in an order rotated from round to round, so that the paired ratios compare runs
made seconds apart. The durable BREW cycles run against a pot server with ``BREW_POTS`` coffee
pots, a connection on each; after the last round that server is killed (SIGKILL) and its history
file is read, to check that every change acknowledged was written before its answer. Memory: each
server's RSS holding many idle connections.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from loads import BREW_POTS, BREW_START, BREW_STOP, GET, HOME, Load, brew_cycles, pots_config
from peers import (
    CEILING,
    DEFAULT_SETUP,
    NATIVE,
    POT,
    POT_POTS,
    POT_WEB,
    TWISTED_WEB,
    TWISTED_WEB_HTML,
    Bench,
    PotSetup,
    started,
)
from processes import ServerError, ServerProcess, exchange, fetch_home_page

HISTORY_FILE = "history.sqlite3"

THROUGHPUT = (
    Load(
        "keepalive",
        "keep-alive GET, 50 connections",
        50,
        1,
        False,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Load(
        "pipelined",
        "pipelined GET, 10 connections x depth 16",
        10,
        16,
        False,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Load(
        "fresh",
        "connection per request, 50 at a time",
        50,
        1,
        True,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Load(
        "brew",
        "BREW start/stop cycles, 1 connection",
        1,
        1,
        False,
        (BREW_START, BREW_STOP),
        (POT, CEILING, TWISTED_WEB),
    ),
    Load(
        "brew_pots",
        f"durable BREW start/stop cycles, {BREW_POTS} connections on {BREW_POTS} pots",
        BREW_POTS,
        1,
        False,
        brew_cycles(BREW_POTS),
        (POT_POTS, CEILING, TWISTED_WEB),
        groups=BREW_POTS,
    ),
    Load(
        "web", "web home page, 50 connections", 50, 1, False, (HOME,), (POT_WEB, TWISTED_WEB_HTML)
    ),
)
NATIVE_LOADS = ("keepalive", "pipelined", "fresh")
"""Loads also run against the native server, to measure the load generator's capacity."""
MEMORY_SERVERS = (POT, CEILING, TWISTED_WEB)
QUICK_MEMORY_SERVERS = (POT,)
"""With ``--quick``, only the pot server (the one with a target) holds the idle connections."""
MEMORY_STATES = {"after one GET": GET, "connected, nothing sent": None}

Runs = dict[str, dict[str, list[dict[str, Any]]]]


def durable_brews(server: ServerProcess, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Kill ``server`` at once; compare the brews its history holds with those acknowledged."""
    server.kill()
    assert server.data_dir is not None
    path = server.data_dir / HISTORY_FILE
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as history:
        brews, stopped = history.execute("SELECT count(*), count(stopped) FROM brews").fetchone()
    acknowledged = sum(r["ok_total"] for r in runs) // 2 + 1  # starts (= stops) and the priming
    return {
        "acknowledged_starts": acknowledged,
        "acknowledged_stops": acknowledged,
        "brews_in_history": brews,
        "stopped_in_history": stopped,
        "all_durable": brews >= acknowledged and stopped >= acknowledged,
    }


def _start_servers(
    bench: Bench, stack: ExitStack, kinds: set[str], notes: dict[str, str]
) -> tuple[dict[str, ServerProcess], int | None]:
    """Start every server the loads need; return them and the size of the pot's GET body."""
    servers: dict[str, ServerProcess] = {}

    def start(kind: str, body: Path | None = None, setup: PotSetup = DEFAULT_SETUP) -> None:
        if kind in kinds:
            server = stack.enter_context(started(bench, kind, notes, body, setup=setup))
            if server is not None:
                servers[kind] = server

    start(POT)
    body_path, body_size = None, None
    if POT in servers:
        status, body = exchange(servers[POT].port, GET)
        body_path = bench.work_dir / "pot-get-body.json"
        body_path.write_bytes(body)
        body_size = len(body)
        print(f"the pot answers GET with {status} and {len(body)} body bytes", file=sys.stderr)
    for kind in (CEILING, TWISTED_WEB):
        start(kind, body_path)
    config = bench.work_dir / "pots.ini"
    config.write_text(pots_config(BREW_POTS))
    start(POT_POTS, setup=PotSetup(config=config))
    start(NATIVE)
    start(POT_WEB)
    if POT_WEB in servers and TWISTED_WEB_HTML in kinds:
        try:
            html = fetch_home_page(servers[POT_WEB].port)
        except (ServerError, OSError) as error:
            notes[POT_WEB] = f"home page not fetched: {error}"
            del servers[POT_WEB]
        else:
            html_path = bench.work_dir / "home.html"
            html_path.write_bytes(html)
            start(TWISTED_WEB_HTML, html_path)
    return servers, body_size


def measure_throughput(
    bench: Bench, loads: list[Load], notes: dict[str, str]
) -> tuple[Runs, int | None, dict[str, Any]]:
    """Alternate the servers of every load for the configured rounds.

    Return all runs, the size of the pot's GET body (which the peers answer with too) and the
    durability check of the BREW cycles on several pots (empty when not run).
    """
    kinds_of = {s.name: s.servers + ((NATIVE,) if s.name in NATIVE_LOADS else ()) for s in loads}
    kinds = {kind for names in kinds_of.values() for kind in names}
    runs: Runs = {name: {k: [] for k in names} for name, names in kinds_of.items()}
    durability: dict[str, Any] = {}
    with ExitStack() as stack:
        servers, body_size = _start_servers(bench, stack, kinds, notes)
        for round_no in range(bench.settings.rounds):
            for load in loads:
                present = [k for k in kinds_of[load.name] if k in servers]
                if not present:
                    continue
                shift = round_no % len(present)
                for kind in present[shift:] + present[:shift]:
                    try:
                        result = bench.load(servers[kind], load)
                    except (ServerError, OSError) as error:
                        notes[kind] = f"dropped in round {round_no + 1}: {error}"
                        print(f"dropping {kind}: {error}", file=sys.stderr)
                        del servers[kind]
                        continue
                    result["round"] = round_no
                    runs[load.name][kind].append(result)
                    print(
                        f"round {round_no + 1}/{bench.settings.rounds}"
                        f" {load.name:<9} {kind:<16}"
                        f" {result['rps']:>10.0f} req/s  p99 {result['p99_us'] / 1000:6.2f} ms"
                        f"  errors {result['errors']} non-2xx {result['non2xx']}"
                        f"  loadgen cpu {result['cpu']:.2f} server cpu {result['server_cpu']:.2f}",
                        file=sys.stderr,
                    )
        if POT_POTS in servers:
            durability = durable_brews(servers[POT_POTS], runs["brew_pots"][POT_POTS])
            print(f"durable BREW cycles: {durability}", file=sys.stderr)
    return runs, body_size, durability


def measure_memory(bench: Bench, notes: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    """RSS of each server (a fresh process each time) with the idle connections held."""
    memory: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in QUICK_MEMORY_SERVERS if bench.settings.quick else MEMORY_SERVERS:
        for state, request in MEMORY_STATES.items():
            with started(bench, kind, notes) as server:
                if server is None:
                    break
                result = bench.hold(server, request)
                memory.setdefault(kind, {})[state] = result
                print(
                    f"memory {kind:<12} {state:<24}"
                    f" {result['rss_before_kib'] / 1024:7.1f} MiB ->"
                    f" {result['rss_with_kib'] / 1024:7.1f} MiB"
                    f" with {result['held_by_server']} connections",
                    file=sys.stderr,
                )
    return memory
