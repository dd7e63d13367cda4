"""Benchmark of the Wireshark Lua dissector against Wireshark's own HTTP dissector.

``python benchmarks/dissector_bench.py [--exchanges N] [--rounds R]`` writes one synthetic capture
(by default 1,100 keep-alive connections of 50 request/response exchanges each: 205,700 packets)
with ``tests/pcapfile.py`` and dissects the same bytes, on port 80, twice per mode: with Wireshark's
HTTP dissector and with ``dissector/htcpcp.lua`` (given port 80 with ``-o htcpcp.tcp_ports:80``).
The HTTP runs load the Lua script too (with its heuristic and its TCP tracker off, on its default
port), so both pay the same start-up. The traffic is HTCPCP that HTTP can read as well:
``POST``/``GET``/``PROPFIND`` with ``HTTP/1.1`` (the pot server's answer to origin-form requests),
coffee-pot headers, Accept-Additions, JSON bodies, some pipelined requests and some responses split
over two segments.

Modes: ``tree`` (``-V``, the whole packet tree printed), ``no tree`` (the summary lines only, as
``tshark -r`` prints them) and ``two-pass`` (``-2``). For each mode it prints the median wall time
and CPU time over the rounds, the ratio HTCPCP / HTTP, the median peak resident set size of each
and its ratio. The two dissectors run back to back within a round (their order rotates), and a
time ratio is the median of the rounds' own ratios: on a shared machine whose speed drifts by
tens of percent over minutes, the pair of runs in one round sees the same machine. The targets
are a time ratio of at most 2.0 and a memory ratio of at most 1.5, measured in the same run; the
script says whether each was met. Before timing it checks that both dissectors decode every
request and response in the capture.

``--floor`` adds a third dissector to every round: a Lua script that does only what any Lua
dissector showing these messages must (on port 80: the Protocol and Info columns, and with a tree
one protocol item and 13 items a packet, each with its own range, about as many as this
dissector shows; an empty postdissector, as this one has a tracker). Its ratio to HTTP is the
cost of the Lua API alone; what this dissector takes above it is its own work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from tests.pcapfile import Capture  # noqa: E402

DISSECTOR = REPO_DIR / "dissector" / "htcpcp.lua"
TIME_TARGET = 2.0
MEMORY_TARGET = 1.5
MODES = {"tree": ("-V",), "no tree": (), "two-pass": ("-2",)}
HTCPCP_OPTIONS = ("-o", "htcpcp.tcp_ports:80")
# The HTTP runs load the script with its heuristic and its TCP tracker (a postdissector that
# would otherwise look at every frame) off: they pay its start-up only.
HTTP_OPTIONS = ("--disable-heuristic", "htcpcp_tcp", "--disable-protocol", "htcpcp_tcp")
FLOOR_SCRIPT = """
local p = Proto("htcpcp", "Lua API floor")
local text = ProtoField.string("htcpcp.x", "x")
p.fields = { text }
function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    local cols = pinfo.cols
    cols.protocol = "HTCPCP"
    cols.info:set("POST /pot-0 HTTP/1.1")
    if tree.text ~= nil then
        local t = tree:add(p, tvb(0, len), "Hyper Text Coffee Pot Control Protocol")
        for _ = 1, 13 do t:add(text, tvb(0, 1), "value") end
    end
    return len
end
DissectorTable.get("tcp.port"):add(80, p)
local tracker = Proto("htcpcp_tcp", "empty postdissector")
function tracker.dissector() end
register_postdissector(tracker)
"""

COFFEE = b"Content-Type: message/coffeepot\r\n"
REQUESTS = (
    b"POST /pot-0 HTTP/1.1\r\nHost: localhost:5030\r\n" + COFFEE + b"Accept-Additions: Cream;q=0.5"
    b", Whisky\r\nUser-Agent: htcpcp-client/1.0\r\nContent-Length: 5\r\n\r\nstart",
    b"GET /pot-0 HTTP/1.1\r\nHost: localhost:5030\r\nUser-Agent: htcpcp-client/1.0\r\n"
    b"Accept: application/json\r\n\r\n",
    b"PROPFIND /pot-1 HTTP/1.1\r\nHost: localhost:5030\r\nUser-Agent: htcpcp-client/1.0\r\n\r\n",
)
BODIES = (
    b'{"pot": "pot-0", "state": "brewing", "additions": ["Cream", "Whisky"]}',
    b'{"pot": "pot-0", "state": "ready", "safe": "yes"}',
    b'{"pot": "pot-1", "kind": "teapot", "varieties": ["darjeeling", "earl-grey"]}',
)


def response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nServer: htcpcp/1.0\r\nDate: Mon, 01 Apr 2024 10:00:00 GMT\r\n"
        b"Content-Type: application/json\r\nSafe: yes\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )


def build_capture(path: Path, connections: int, exchanges: int) -> tuple[int, int]:
    """Write the capture; return (packets, requests)."""
    cap = Capture(step_us=200)
    requests = 0
    for n in range(connections):
        conv = cap.connect(20000 + n, 80)
        i = 0
        while i < exchanges:
            kind = (n + i) % 3
            if i % 7 == 6 and i + 1 < exchanges:
                # Two pipelined requests in one segment, their responses in one segment.
                other = (kind + 1) % 3
                conv.client(REQUESTS[kind] + REQUESTS[other])
                conv.server(response(BODIES[kind]) + response(BODIES[other]))
                i += 2
                requests += 2
                continue
            conv.client(REQUESTS[kind])
            answer = response(BODIES[kind])
            if i % 10 == 9:
                cut = answer.index(b"\r\n\r\n") + 4
                conv.server(answer[:cut])
                conv.server(answer[cut:])
            else:
                conv.server(answer)
            i += 1
            requests += 1
        conv.close()
    cap.write(path)
    return len(cap.packets), requests


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    max_rss_kib: int


def tshark_command(
    tshark: str, capture: Path, options: tuple[str, ...], script: Path = DISSECTOR
) -> list[str]:
    return [tshark, "-n", "-X", f"lua_script:{script}", *options, "-r", str(capture)]


def paired_ratio(runs: list[Run], baseline: list[Run], field: str) -> float:
    """The median over the rounds of one round's runs[r] / baseline[r] (the same field)."""
    return statistics.median(
        getattr(run, field) / getattr(base, field) for run, base in zip(runs, baseline, strict=True)
    )


def run_once(command: list[str], env: dict[str, str]) -> Run:
    """Run tshark with its output discarded; return wall time, CPU time and peak RSS."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"tshark failed ({process.returncode}): {' '.join(command)}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def count(tshark: str, capture: Path, options: tuple[str, ...], field: str, env: dict) -> int:
    command = [*tshark_command(tshark, capture, options), "-T", "fields", "-e", field]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    if "Lua" in result.stderr:
        raise SystemExit(f"Lua error: {result.stderr}")
    return sum(len(line.split(",")) for line in result.stdout.splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--exchanges", type=int, default=50, help="per connection")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--floor", action="store_true", help="also time a Lua script doing only the API calls"
    )
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    if tshark is None:
        raise SystemExit("tshark is not installed (Debian: apt-get install tshark)")
    with tempfile.TemporaryDirectory(prefix="htcpcp-dissector-bench-") as tmp:
        env = {**os.environ, "WIRESHARK_CONFIG_DIR": tmp}
        capture = Path(tmp) / "bench.pcap"
        floor = Path(tmp) / "floor.lua"
        floor.write_text(FLOOR_SCRIPT)
        packets, requests = build_capture(capture, args.connections, args.exchanges)
        print(f"capture: {packets} packets, {requests} requests and as many responses")
        checks = {
            "HTTP": (HTTP_OPTIONS, "http.request.method", "http.response.code"),
            "HTCPCP": (HTCPCP_OPTIONS, "htcpcp.request.method", "htcpcp.response.code"),
        }
        for name, (options, request_field, response_field) in checks.items():
            seen = [
                count(tshark, capture, options, f, env) for f in (request_field, response_field)
            ]
            print(f"{name} decodes {seen[0]} requests and {seen[1]} responses")
            if seen != [requests, requests]:
                raise SystemExit(f"{name} did not decode every message")
        print()
        print(
            "| mode | HTTP s | HTCPCP s | time ratio | HTTP CPU s | HTCPCP CPU s | CPU ratio"
            " | HTTP MiB | HTCPCP MiB | memory ratio |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        met = True
        floors: list[str] = []
        for mode, extra in MODES.items():
            runs: dict[str, list[Run]] = {"HTTP": [], "HTCPCP": [], "floor": []}
            for r in range(args.rounds):
                order = ("HTTP", "HTCPCP") if r % 2 == 0 else ("HTCPCP", "HTTP")
                for name in order:
                    command = tshark_command(tshark, capture, (*checks[name][0], *extra))
                    runs[name].append(run_once(command, env))
                if args.floor:
                    command = tshark_command(tshark, capture, extra, floor)
                    runs["floor"].append(run_once(command, env))
            if args.floor:
                floor_cpu = statistics.median(x.cpu_seconds for x in runs["floor"])
                floor_ratio = paired_ratio(runs["floor"], runs["HTTP"], "cpu_seconds")
                floors.append(f"{mode}: {floor_cpu:.2f} CPU s, {floor_ratio:.2f}x HTTP")
            del runs["floor"]
            seconds = {n: statistics.median(x.seconds for x in v) for n, v in runs.items()}
            cpu = {n: statistics.median(x.cpu_seconds for x in v) for n, v in runs.items()}
            rss = {n: statistics.median(x.max_rss_kib for x in v) / 1024 for n, v in runs.items()}
            time_ratio = paired_ratio(runs["HTCPCP"], runs["HTTP"], "seconds")
            cpu_ratio = paired_ratio(runs["HTCPCP"], runs["HTTP"], "cpu_seconds")
            memory_ratio = rss["HTCPCP"] / rss["HTTP"]
            met = met and cpu_ratio <= TIME_TARGET and memory_ratio <= MEMORY_TARGET
            print(
                f"| {mode} | {seconds['HTTP']:.2f} | {seconds['HTCPCP']:.2f} | {time_ratio:.2f}"
                f" | {cpu['HTTP']:.2f} | {cpu['HTCPCP']:.2f} | {cpu_ratio:.2f}"
                f" | {rss['HTTP']:.0f} | {rss['HTCPCP']:.0f} | {memory_ratio:.2f} |"
            )
        if floors:
            print()
            print("Lua API floor: " + "; ".join(floors))
        print()
        print(
            f"targets (time <= {TIME_TARGET}x, memory <= {MEMORY_TARGET}x): "
            + ("met" if met else "NOT met")
        )


if __name__ == "__main__":
    main()
