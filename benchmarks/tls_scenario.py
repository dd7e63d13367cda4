"""The ``tls`` scenario of the benchmark harness: one request per TLS connection.

Part of ``benchmarks/run.py``. A pot server listening on ``ssl:`` (its generated certificate) is
measured against the TLS ceiling: ``ceiling.py`` behind the same TLS context
(``htcpcp.tls.server_options`` with the pot's own key and certificate), answering with the pot's
own GET body. ``tls_load.py`` keeps ``TLS_CONNECTIONS`` connections in flight, each a handshake,
one GET and a close; once with full handshakes, once offering the last session's ticket, so that
the server resumes it. Each round runs both servers in both modes, in a rotated order.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

from loads import GET
from peers import CEILING_TLS, CERTIFICATE, POT_TLS, Bench, started
from processes import BENCH_DIR, ServerError, ServerProcess, exchange

TLS_CONNECTIONS = 16
MODES = ("full", "resumed")
Runs = dict[str, dict[str, list[dict[str, Any]]]]


def _run(bench: Bench, server: ServerProcess, mode: str) -> dict[str, Any]:
    settings = bench.settings
    argv = [sys.executable, str(BENCH_DIR / "tls_load.py"), "--port", str(server.port)]
    argv += ["--connections", str(TLS_CONNECTIONS), "--seconds", str(settings.seconds)]
    argv += ["--warmup", str(settings.warmup), *(["--resume"] if mode == "resumed" else [])]
    return bench.run_client(server, argv, settings.seconds + settings.warmup + 60)


def measure_tls(bench: Bench, notes: dict[str, str]) -> Runs:
    """Every round: the pot and the TLS ceiling, full and resumed handshakes; all the runs."""
    runs: Runs = {mode: {POT_TLS: [], CEILING_TLS: []} for mode in MODES}
    with ExitStack() as stack:
        pot = stack.enter_context(started(bench, POT_TLS, notes))
        if pot is None or pot.data_dir is None or pot.pot_port is None:
            return {}
        _, body = exchange(pot.pot_port, GET)
        body_path = bench.work_dir / "pot-tls-get-body.json"
        body_path.write_bytes(body)
        pem = pot.data_dir / CERTIFICATE
        ceiling = stack.enter_context(started(bench, CEILING_TLS, notes, body_path, tls=pem))
        servers = {POT_TLS: pot, **({CEILING_TLS: ceiling} if ceiling else {})}
        pairs = [(kind, mode) for mode in MODES for kind in servers]
        for round_no in range(bench.settings.rounds):
            shift = round_no % len(pairs)
            for kind, mode in pairs[shift:] + pairs[:shift]:
                try:
                    result = _run(bench, servers[kind], mode)
                except (ServerError, OSError) as error:
                    notes[f"tls {kind} {mode}"] = f"round {round_no + 1}: {error}"
                    print(f"tls {kind} {mode}: {error}", file=sys.stderr)
                    continue
                result["round"] = round_no
                runs[mode][kind].append(result)
                print(
                    f"round {round_no + 1}/{bench.settings.rounds} tls {mode:<8} {kind:<12}"
                    f" {result['rps']:>8.0f} conn/s  p99 {result['p99_us'] / 1000:6.2f} ms"
                    f"  resumed {result['resumed']}/{result['requests']}"
                    f"  errors {result['errors']}  client cpu {result['cpu']:.2f}"
                    f" server cpu {result['server_cpu']:.2f}",
                    file=sys.stderr,
                )
    return runs
