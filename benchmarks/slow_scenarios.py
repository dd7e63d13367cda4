"""Slow clients against the pot server: slowloris and slow readers.

Part of ``benchmarks/run.py``.

* slowloris: ``SLOW_CLIENTS`` connections (``slowloris.py``) trickle a request head, one header
  line a second, until the server cuts them off at its head deadline with 408; a normal keep-alive
  client is measured alone before and while they are attached.
* slow readers: ``SLOW_READERS`` connections (``slow_readers.py``), plain and over TLS, pipeline
  small GETs and never read an answer; the server's RSS growth over idle and a normal client's
  latency while they are stalled (the server must bound the answers it holds per connection).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from loads import GET, Load
from peers import POT, POT_TLS, Bench, PotSetup, started
from processes import BENCH_DIR, ServerError, ServerProcess, settle_fds

SLOW_CLIENTS = 1000
"""Connections trickling a request head, one header line per ``SLOW_INTERVAL`` seconds."""
SLOW_INTERVAL = 1.0
SLOW_RAMP = 1.0
"""Seconds over which the slow clients connect."""
SLOW_BACKLOG = 2048
HEAD_TIMEOUT = 10.0
"""The pot server's head deadline in the slowloris scenario (its default, set explicitly)."""
QUICK_HEAD_TIMEOUT = 3.0
"""The same with ``--quick``, so the scenario takes seconds, not half a minute."""
NORMAL_CLIENT = Load("normal", "keep-alive GET, 1 connection", 1, 1, False, (GET,), (POT,))
"""The normal client measured with and without the slow clients."""
NORMAL_SECONDS = 5.0
QUICK_NORMAL_SECONDS = 1.5
NORMAL_WARMUP = 0.5
"""The normal client's warm-up and measured time: together well within the head deadline."""
SLOW_READERS = 300
"""Connections pipelining GETs without reading their answers."""


def _head_timeout(bench: Bench) -> float:
    return QUICK_HEAD_TIMEOUT if bench.settings.quick else HEAD_TIMEOUT


def _normal_seconds(bench: Bench) -> float:
    return QUICK_NORMAL_SECONDS if bench.settings.quick else NORMAL_SECONDS


def _attach_slowloris(bench: Bench, server: ServerProcess, fds_before: int) -> dict[str, Any]:
    """Attach ``SLOW_CLIENTS`` connections trickling a head; measure the normal client then."""
    rss_before = server.rss_kib()
    argv = [sys.executable, str(BENCH_DIR / "slowloris.py"), "--port", str(server.port)]
    argv += ["--clients", str(SLOW_CLIENTS), "--ramp", str(SLOW_RAMP)]
    argv += ["--interval", str(SLOW_INTERVAL), "--limit", str(_head_timeout(bench) + 15)]
    began = time.monotonic()
    client = bench.client(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert client.stdout is not None and client.stderr is not None
    try:
        opened: dict[str, Any] = json.loads(client.stdout.readline() or "{}")
        if "open" not in opened:
            raise ServerError("the slow clients did not start")
        fds_with = settle_fds(server, lambda n: n >= fds_before + opened["open"], 10)
        rss_with = server.rss_kib()
        normal = bench.load(server, NORMAL_CLIENT, _normal_seconds(bench), NORMAL_WARMUP)
        normal_ended = time.monotonic() - began
        last = client.stdout.readline()  # slowloris.py stops by itself at its --limit
        client.wait(timeout=10)
    finally:
        client.kill()
        client.wait()
    if client.returncode != 0 or not last.strip():
        raise ServerError(f"the slow clients failed: {client.stderr.read().strip()}")
    answered: dict[str, Any] = json.loads(last)
    return {
        "opened": opened["open"],
        "open_errors": opened["errors"],
        "open_seconds": opened["seconds"],
        **answered,
        "normal_with_slow": normal,
        "normal_ended_s": round(normal_ended, 3),
        "rss_before_kib": rss_before,
        "rss_with_kib": rss_with,
        "fds_before": fds_before,
        "fds_with": fds_with,
        "fds_after": settle_fds(server, lambda n: n <= fds_before, 10),
    }


def measure_slowloris(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """The normal client alone, then with ``SLOW_CLIENTS`` slow clients until they are cut off.

    One pot server (its head deadline set by a configuration file), one run
    of each; empty if the pot server cannot be started.
    """
    config = bench.work_dir / "slowloris.ini"
    config.write_text(f"[server]\nhead-timeout = {_head_timeout(bench):g}\n")
    setup = PotSetup(backlog=SLOW_BACKLOG, config=config)
    with started(bench, POT, notes, setup=setup) as server:
        if server is None:
            return {}
        time.sleep(0.2)
        fds_before = server.fd_count()
        try:
            alone = bench.load(server, NORMAL_CLIENT, _normal_seconds(bench), NORMAL_WARMUP)
            settle_fds(server, lambda n: n <= fds_before, 5)
            result = _attach_slowloris(bench, server, fds_before)
        except (ServerError, OSError) as error:
            notes["slowloris"] = f"not measured: {error}"
            print(f"slowloris: {error}", file=sys.stderr)
            return {}
    result = {
        "slow_clients": SLOW_CLIENTS,
        "interval_s": SLOW_INTERVAL,
        "ramp_s": SLOW_RAMP,
        "head_timeout_s": _head_timeout(bench),
        "normal_client": NORMAL_CLIENT.title,
        "normal_alone": alone,
        **result,
    }
    print(
        f"slowloris {result['opened']} slow clients: answers {result['statuses']},"
        f" time to answer {result['cut_off_s']} s, normal p99 alone"
        f" {alone['p99_us'] / 1000:.2f} ms, with them"
        f" {result['normal_with_slow']['p99_us'] / 1000:.2f} ms",
        file=sys.stderr,
    )
    return result


def _attach_readers(bench: Bench, server: ServerProcess, tls: bool) -> dict[str, Any]:
    """Stall ``SLOW_READERS`` readers on ``server``; its RSS and the normal client meanwhile."""
    assert server.pot_port is not None
    time.sleep(0.3)
    rss_idle = server.rss_kib()
    seconds = _normal_seconds(bench)
    alone = bench.load(server, NORMAL_CLIENT, seconds, NORMAL_WARMUP, port=server.pot_port)
    argv = [sys.executable, str(BENCH_DIR / "slow_readers.py"), "--port", str(server.port)]
    argv += ["--clients", str(SLOW_READERS), *(["--tls"] if tls else [])]
    with bench.talking_client(argv) as client:
        opened = client.read("open", "the slow readers did not start")
        filling = bench.load(server, NORMAL_CLIENT, seconds, NORMAL_WARMUP, port=server.pot_port)
        stalled = client.read("stalled", "the slow readers did not stall")
        time.sleep(0.5)
        rss_stalled = server.rss_kib()
        during = bench.load(server, NORMAL_CLIENT, seconds, NORMAL_WARMUP, port=server.pot_port)
        rss_after_normal = server.rss_kib()
        client.end_input()
        ended = client.read()
        client.process.wait(timeout=30)
    rss_peak = max(rss_stalled, rss_after_normal)
    return {
        "readers": SLOW_READERS,
        **opened,
        **stalled,
        **{f"end_{key}": value for key, value in ended.items()},
        "rss_idle_kib": rss_idle,
        "rss_stalled_kib": rss_stalled,
        "rss_peak_kib": rss_peak,
        "rss_growth_mb": round((rss_peak - rss_idle) * 1024 / 1e6, 1),
        "normal_alone": alone,
        "normal_filling": filling,
        "normal_during": during,
    }


def measure_slow_readers(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """Slow readers plain and over TLS, each against a fresh pot server."""
    results: dict[str, Any] = {}
    for label, kind in (("plain", POT), ("tls", POT_TLS)):
        with started(bench, kind, notes) as server:
            if server is None:
                continue
            try:
                result = _attach_readers(bench, server, kind == POT_TLS)
            except (ServerError, OSError, ValueError) as error:
                notes[f"slow readers {label}"] = f"not measured: {error}"
                print(f"slow readers {label}: {error}", file=sys.stderr)
                continue
        results[label] = result
        print(
            f"slow readers {label}: {result['stalled']} stalled, {result['sent_bytes']:,} bytes;"
            f" RSS {result['rss_idle_kib'] / 1024:.1f} -> {result['rss_peak_kib'] / 1024:.1f} MiB;"
            f" normal p99 {result['normal_alone']['p99_us'] / 1000:.2f},"
            f" filling {result['normal_filling']['p99_us'] / 1000:.2f}, stalled"
            f" {result['normal_during']['p99_us'] / 1000:.2f} ms",
            file=sys.stderr,
        )
    return results
