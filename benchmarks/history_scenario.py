"""The ``history`` scenario of the benchmark harness: a brew history at 1k, 100k and 1M brews.

Part of ``benchmarks/run.py``. Each history is made once by ``history_fill.py`` (the project's
schema and triggers) and kept in ``benchmarks/.cache/`` under a name that changes with the
schema, the storage and the filler, then put in a data directory of its own. Every round starts
one pot server (with the web front end) per size, which measures its start-up to listening, and
times ``HISTORY_REQUESTS`` keep-alive GETs of each page: ``/log`` first, middle and last page,
``/log?pot=tea`` (its middle page) and the web's ``/history``; the p50 of each is compared with
the same page at 1k brews in the same round (the 1k history is the ceiling). Once, at the end, a
CSV export of the whole 1M history is read as fast as the server sends it, with the server's RSS
sampled throughout (``--quick``: its first ``QUICK_EXPORT_SECONDS``).
"""

from __future__ import annotations

import hashlib
import select
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from loads import Load
from peers import POT_WEB, Bench, PotSetup, started
from processes import BENCH_DIR, REPO_DIR, ServerError, ServerProcess

SIZES = (1_000, 100_000, 1_000_000)
PER_PAGE = 50
"""The pot server's default page size."""
HISTORY_REQUESTS = 30
HISTORY_WARMUP = 0.2
QUICK_EXPORT_SECONDS = 10.0
EXPORT_TIMEOUT = 600.0
CACHE_DIR = BENCH_DIR / ".cache"
KEYED_ON = ("benchmarks/history_fill.py", "htcpcp/history_schema.py", "htcpcp/storage.py")
"""The files whose contents name a cached history (a change to any makes a new one)."""
HISTORY_FILE = "history.sqlite3"
TEA_SHARE = 4
"""One brew in four of a filled history is the teapot's."""


def history_file(count: int) -> Path:
    """A filled history of ``count`` brews, made (and cached) if need be."""
    digest = hashlib.sha256()
    for name in KEYED_ON:
        digest.update((REPO_DIR / name).read_bytes())
    path = CACHE_DIR / f"history-{count}-{digest.hexdigest()[:12]}.sqlite3"
    if not path.exists():
        CACHE_DIR.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        fill = [sys.executable, str(BENCH_DIR / "history_fill.py"), str(partial), str(count)]
        subprocess.run(fill, check=True, timeout=600)
        partial.rename(path)
    return path


def pages(count: int) -> dict[str, bytes]:
    """The requests timed for a history of ``count`` brews (name: request)."""
    last = -(-count // PER_PAGE)
    tea_pages = -(-(count // TEA_SHARE) // PER_PAGE)
    targets = {
        "log first page": "/log",
        "log middle page": f"/log?page={max(1, last // 2)}",
        "log last page": f"/log?page={last}",
        "log ?pot=tea": f"/log?pot=tea&page={max(1, tea_pages // 2)}",
    }
    return {
        name: b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % target.encode()
        for name, target in targets.items()
    }


WEB_PAGE = "web /history"
WEB_REQUEST = b"GET /history HTTP/1.1\r\nHost: localhost\r\n\r\n"


def _time_pages(
    bench: Bench, server: ServerProcess, count: int, round_no: int
) -> list[dict[str, Any]]:
    assert server.pot_port is not None
    requests = {**pages(count), WEB_PAGE: WEB_REQUEST}
    results = []
    for name, request in requests.items():
        port = server.port if name == WEB_PAGE else server.pot_port
        load = Load(name, name, 1, 1, False, (request,), (POT_WEB,))
        run = bench.load(server, load, warmup=HISTORY_WARMUP, port=port, total=HISTORY_REQUESTS)
        results.append({"page": name, "size": count, "round": round_no, **run})
    return results


def _export(server: ServerProcess, limit: float) -> dict[str, Any]:
    """Read ``GET /log?format=csv`` to its end (or ``limit`` s), sampling the server's RSS."""
    assert server.pot_port is not None
    rss_before = peak = server.rss_kib()
    received = newlines = 0
    began = time.monotonic()
    complete = False
    with socket.create_connection(("127.0.0.1", server.pot_port), timeout=30) as sock:
        sock.sendall(
            b"GET /log?format=csv HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        sample_at = began
        while time.monotonic() - began < limit:
            if select.select([sock], [], [], 0.1)[0]:
                data = sock.recv(1 << 20)
                if not data:
                    complete = True
                    break
                received += len(data)
                newlines += data.count(b"\n")
            if time.monotonic() >= sample_at:
                peak = max(peak, server.rss_kib())
                sample_at = time.monotonic() + 0.1
    seconds = time.monotonic() - began
    return {
        "complete": complete,
        "limit_s": limit,
        "bytes": received,
        "lines": newlines,
        "seconds": round(seconds, 2),
        "rows_per_second": round(newlines / seconds) if seconds else None,
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak,
        "rss_growth_mb": round((peak - rss_before) * 1024 / 1e6, 1),
    }


def _data_dirs(bench: Bench) -> dict[int, Path]:
    dirs = {}
    for count in SIZES:
        data_dir = bench.work_dir / f"history-{count}"
        data_dir.mkdir()
        shutil.copyfile(history_file(count), data_dir / HISTORY_FILE)
        dirs[count] = data_dir
    return dirs


def measure_history(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """Pages and start-up at every size, every round; the CSV export at the largest, once."""
    dirs = _data_dirs(bench)
    runs: list[dict[str, Any]] = []
    startups: dict[int, list[float]] = {count: [] for count in SIZES}
    export: dict[str, Any] = {}
    for round_no in range(bench.settings.rounds):
        with ExitStack() as stack:
            servers = {}
            for count in SIZES:
                setup = PotSetup(data_dir=dirs[count], prime=False)
                server = stack.enter_context(started(bench, POT_WEB, notes, setup=setup))
                if server is None:
                    return {}
                assert server.startup_s is not None
                startups[count].append(round(server.startup_s, 3))
                servers[count] = server
            order = list(SIZES[round_no % len(SIZES) :] + SIZES[: round_no % len(SIZES)])
            try:
                for count in order:
                    runs += _time_pages(bench, servers[count], count, round_no)
            except (ServerError, OSError) as error:
                notes["history"] = f"round {round_no + 1}: {error}"
                print(f"history: {error}", file=sys.stderr)
                continue
            for run in runs[-len(order) * 5 :]:
                print(
                    f"round {round_no + 1}/{bench.settings.rounds} history {run['size']:>9,}"
                    f" {run['page']:<16} p50 {run['p50_us'] / 1000:7.2f} ms"
                    f"  non-2xx {run['non2xx']} errors {run['errors']}",
                    file=sys.stderr,
                )
            if round_no == bench.settings.rounds - 1:
                limit = QUICK_EXPORT_SECONDS if bench.settings.quick else EXPORT_TIMEOUT
                export = _export(servers[SIZES[-1]], limit)
                print(f"history CSV export: {export}", file=sys.stderr)
    return {"sizes": list(SIZES), "runs": runs, "startup_s": startups, "export": export}
