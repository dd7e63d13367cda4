"""Medians and paired ratios of the benchmark harness's runs.

Part of ``benchmarks/run.py``. A run is one JSON result of a load generator against one server in
one round; ratios pair the runs of the same round (measured seconds apart) and take the median
over rounds, so slow drifts of a shared machine cancel out.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Run = dict[str, Any]


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def rps_per_cpu(run: Run) -> float:
    """Requests per second of server CPU time: throughput corrected for CPU taken by others."""
    return float(run["rps"] / run["server_cpu"]) if run["server_cpu"] else 0.0


def summarize(runs: list[Run]) -> dict[str, Any]:
    """Medians over rounds (and totals of errors) for one server in one scenario."""
    return {
        "rps": median([r["rps"] for r in runs]),
        "p50_ms": median([r["p50_us"] / 1000 for r in runs]),
        "p99_ms": median([r["p99_us"] / 1000 for r in runs]),
        "loadgen_cpu": median([r["cpu"] for r in runs]),
        "server_cpu": median([r["server_cpu"] for r in runs]),
        "server_cpu_wait": median([r["server_cpu_wait"] for r in runs]),
        "steal": median([r["steal"] for r in runs]),
        "rps_per_cpu": median([rps_per_cpu(r) for r in runs]),
        "errors": sum(r["errors"] for r in runs),
        "non2xx": sum(r["non2xx"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
    }


def rps(run: Run) -> float:
    """A run's requests (or connections) per second."""
    return float(run["rps"])


def round_ratios(
    subject: list[Run], other: list[Run], key: Callable[[Run], float] = rps
) -> list[float]:
    """key(subject) / key(other) in every round both were measured."""
    others = {r["round"]: key(r) for r in other}
    return [key(r) / others[r["round"]] for r in subject if others.get(r["round"])]


def paired_ratio(
    subject: list[Run], other: list[Run], key: Callable[[Run], float] = rps
) -> float | None:
    """Median over rounds of key(subject) / key(other), pairing the runs of each round."""
    return median(round_ratios(subject, other, key))


def p50_ms(run: Run) -> float:
    """A run's median latency in milliseconds."""
    return float(run["p50_us"]) / 1000


def by_round(runs: list[Run], **match: Any) -> list[Run]:
    """The runs whose fields equal ``match``, in round order."""
    chosen = [r for r in runs if all(r.get(k) == v for k, v in match.items())]
    return sorted(chosen, key=lambda r: int(r["round"]))
