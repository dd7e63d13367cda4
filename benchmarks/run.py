"""Benchmark harness for the htcpcp pot server: ``python benchmarks/run.py [--quick]``.

The harness compiles the C load generator (``loadgen.c``) and a native canned server
(``nativeserver.c``) with gcc into a temporary directory, starts every server under test as a
subprocess pinned to one core with ``taskset`` (the load generator runs pinned to another core) and
measures them in the same run, alternating the servers within every round and rotating their order
from round to round:

* keep-alive GET (50 connections), pipelined GET (depth 16), connection per request and BREW
  start/stop cycles, against the pot server, the ceiling (``ceiling.py``: a LineReceiver that
  answers with canned bytes) and plain twisted.web (``twistedweb_peer.py``);
* the web front end's home page against twisted.web serving the same HTML from memory;
* memory: the resident set size of each server holding 10,000 idle connections, and the cost of
  one connection;
* slowloris: 1,000 clients (``slowloris.py``) trickling a request head, one header line a second,
  until the pot server cuts them off at its head deadline (10 s) with 408; meanwhile, and alone
  before, the latency of a normal keep-alive client, and the server's RSS and open descriptors;
* the load generator's own capacity: the GET loads are also run against a native C server, in the
  same rounds, to show the load generator drives far more than the servers it measures.

Every server and load generator runs in a session of its own at niceness ``--nice`` (-10 when
permitted), so other work on a shared machine takes less of the pinned cores; how long each server
still waited for its core is reported, with its throughput per CPU-second as a cross-check.

It prints medians and paired ratios as Markdown tables and writes ``benchmarks/results.json``. A
pot server that cannot be started (no ``htcpcp`` twistd plugin, or no ``--web`` option for the home
page) is skipped with the reason. ``docs/performance.md`` describes the method and the results.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import twisted

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

GET = b"GET /pot-0 HTTP/1.1\r\nHost: localhost\r\n\r\n"
BREW_START = (
    b"BREW /pot-0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: message/coffeepot\r\n"
    b"Content-Length: 5\r\n\r\nstart"
)
BREW_STOP = (
    b"BREW /pot-0 HTTP/1.1\r\nHost: localhost\r\nContent-Type: message/coffeepot\r\n"
    b"Content-Length: 4\r\n\r\nstop"
)
HOME = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"

POT = "pot"
CEILING = "ceiling"
TWISTED_WEB = "twisted.web"
NATIVE = "native"
POT_WEB = "pot web"
TWISTED_WEB_HTML = "twisted.web html"

MB = 1_000_000
CONTENDED = 0.10
"""A single-threaded peer waiting for a CPU this much of a run means the machine was busy."""
CONNECT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Scenario:
    """One load: what each connection sends and which servers receive it (the subject first)."""

    name: str
    title: str
    connections: int
    depth: int
    fresh: bool
    requests: tuple[bytes, ...]
    servers: tuple[str, ...]


SCENARIOS = (
    Scenario(
        "keepalive",
        "keep-alive GET, 50 connections",
        50,
        1,
        False,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Scenario(
        "pipelined",
        "pipelined GET, 10 connections x depth 16",
        10,
        16,
        False,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Scenario(
        "fresh",
        "connection per request, 50 at a time",
        50,
        1,
        True,
        (GET,),
        (POT, CEILING, TWISTED_WEB),
    ),
    Scenario(
        "brew",
        "BREW start/stop cycles, 1 connection",
        1,
        1,
        False,
        (BREW_START, BREW_STOP),
        (POT, CEILING, TWISTED_WEB),
    ),
    Scenario(
        "web", "web home page, 50 connections", 50, 1, False, (HOME,), (POT_WEB, TWISTED_WEB_HTML)
    ),
)
NATIVE_SCENARIOS = ("keepalive", "pipelined", "fresh")
"""Loads also run against the native server, to measure the load generator's capacity."""
MEMORY_SERVERS = (POT, CEILING, TWISTED_WEB)
MEMORY_STATES = {"after one GET": GET, "connected, nothing sent": None}
SLOW_CLIENTS = 1000
"""Connections trickling a request head, one header line per ``SLOW_INTERVAL`` seconds."""
SLOW_INTERVAL = 1.0
SLOW_RAMP = 1.0
"""Seconds over which the slow clients connect."""
SLOW_BACKLOG = 2048
HEAD_TIMEOUT = 10.0
"""The pot server's head deadline in the slowloris scenario (its default, set explicitly)."""
NORMAL_CLIENT = Scenario("slowloris", "keep-alive GET, 1 connection", 1, 1, False, (GET,), (POT,))
"""The normal client measured with and without the slow clients."""
NORMAL_SECONDS = 5.0
NORMAL_WARMUP = 0.5
"""The normal client's warm-up and measured time: together well within the head deadline."""


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    rounds: int
    seconds: float
    warmup: float
    idle_connections: int


FULL = Settings(rounds=11, seconds=1.5, warmup=0.5, idle_connections=10_000)
QUICK = Settings(rounds=2, seconds=1.5, warmup=0.5, idle_connections=10_000)


@dataclass(frozen=True)
class PotInfo:
    """What the installed ``htcpcp`` twistd plugin offers."""

    reason: str  # why the pot server cannot be started; empty when it can
    has_web: bool
    has_brew_time: bool


class ServerError(Exception):
    """A server did not start or answer."""


class ServerProcess:
    """A server under test: a subprocess listening on a loopback port."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        log_path: Path,
        env: dict[str, str],
        nice: int,
    ) -> None:
        self.name = name
        self.port = port
        self._log_path = log_path
        with log_path.open("wb") as log:
            self._proc = spawn(
                argv,
                nice,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_DIR,
            )

    def wait_ready(self) -> None:
        """Wait until the port accepts connections."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with status {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.1)
            else:
                return
        raise ServerError(f"{self.name} did not listen on port {self.port}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        """The end of the server's output."""
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the process (all its threads)."""
        stat = Path(f"/proc/{self._proc.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        """Resident set size (VmRSS) in KiB."""
        for line in Path(f"/proc/{self._proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise ServerError(f"no VmRSS for {self.name}")

    def cpu_wait_seconds(self) -> float:
        """Time the main thread was runnable but waiting for a CPU (other processes ran)."""
        return int(Path(f"/proc/{self._proc.pid}/schedstat").read_text().split()[1]) / 1e9

    def fd_count(self) -> int:
        """Open file descriptors."""
        return len(os.listdir(f"/proc/{self._proc.pid}/fd"))

    def stop(self) -> None:
        """Terminate the process, killing it if it does not exit."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def c_escape(data: bytes) -> str:
    """Bytes as the load generator's ``-r`` argument (C escapes)."""
    out = []
    for byte in data:
        char = chr(byte)
        if char == "\\":
            out.append("\\\\")
        elif char == "\r":
            out.append("\\r")
        elif char == "\n":
            out.append("\\n")
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def raise_fd_limit(needed: int) -> int:
    """Raise RLIMIT_NOFILE (the servers and load generator inherit it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        try:  # only root may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return needed
        except (ValueError, OSError):
            needed = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def spawn(argv: list[str], nice: int, **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a process in a session of its own and give it niceness ``nice`` if permitted.

    A session of its own is an autogroup of its own, so the scheduler weighs it against other
    sessions' processes by its own niceness: on a shared machine a negative niceness keeps other
    work from taking the pinned cores in the middle of a run. It needs root or CAP_SYS_NICE.
    """
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    if nice:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
            Path(f"/proc/{proc.pid}/autogroup").write_text(str(nice))
    return proc


def compile_tools(build_dir: Path) -> dict[str, Path]:
    """Compile loadgen.c and nativeserver.c; return their paths."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        sys.exit("run.py: gcc is needed to build the load generator")
    tools = {}
    for name in ("loadgen", "nativeserver"):
        binary = build_dir / name
        subprocess.run(
            [gcc, "-O2", "-std=gnu11", "-Wall", "-o", str(binary), str(BENCH_DIR / f"{name}.c")],
            check=True,
        )
        tools[name] = binary
    return tools


def twistd_path() -> str | None:
    """The twistd script of the running Python, or one on PATH."""
    beside = Path(sys.executable).with_name("twistd")
    return str(beside) if beside.exists() else shutil.which("twistd")


def pot_env() -> dict[str, str]:
    """Environment for twistd: the repository first on the path (the plugin needs no install)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    return env


def probe_pot() -> PotInfo:
    """Ask twistd whether the htcpcp plugin exists and which options it has."""
    twistd = twistd_path()
    if twistd is None:
        return PotInfo("twistd not found", has_web=False, has_brew_time=False)
    proc = subprocess.run(
        [twistd, "htcpcp", "--help"],
        capture_output=True,
        text=True,
        env=pot_env(),
        cwd=REPO_DIR,
        timeout=120,
    )
    if proc.returncode != 0 or "--pot" not in proc.stdout:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return PotInfo(
            f"the htcpcp twistd plugin is not available ({detail[0]})",
            has_web=False,
            has_brew_time=False,
        )
    return PotInfo(
        "",
        has_web=re.search(r"--web(?![\w-])", proc.stdout) is not None,
        has_brew_time="--brew-time" in proc.stdout,
    )


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_total = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    tw_reuse = Path("/proc/sys/net/ipv4/tcp_tw_reuse")
    return {
        "cpu_model": model,
        "cpus_online": os.cpu_count(),
        "cpus_usable": sorted(os.sched_getaffinity(0)),
        "memory_mib": int(mem_total) // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "twisted": twisted.__version__,
        "load_average_at_start": list(os.getloadavg()),
        "tcp_tw_reuse": tw_reuse.read_text().strip() if tw_reuse.exists() else "unknown",
    }


class Bench:
    """Starts servers and load generators with the chosen pinning and collects results."""

    def __init__(
        self, settings: Settings, tools: dict[str, Path], work_dir: Path, pot: PotInfo, nice: int
    ) -> None:
        self.settings = settings
        self.tools = tools
        self.work_dir = work_dir
        self.pot = pot
        self.nice = nice
        cpus = sorted(os.sched_getaffinity(0))
        pin = shutil.which("taskset") is not None and len(cpus) >= 2
        self.server_cpu = cpus[0] if pin else None
        self.client_cpu = cpus[1] if pin else None

    def _pinned(self, cpu: int | None, argv: list[str]) -> list[str]:
        return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]

    def start(
        self,
        kind: str,
        body: Path | None = None,
        *,
        backlog: int = 1024,
        config: Path | None = None,
    ) -> ServerProcess:
        """Start a server of the given kind and wait until it listens.

        ``body`` is what the ceiling and the twisted.web peers answer with; ``backlog`` and
        ``config`` (an INI file) are the pot server's listen backlog and configuration. A pot
        server is primed with one BREW start and stop, so that every GET sees the same pot: one
        whose last brew was stopped (the lab's full JSON status, not the empty pot's ``{}``).
        """
        pot_port = None
        port = free_port()
        env = dict(os.environ)
        py = sys.executable
        body_args = [] if body is None else ["--body", str(body)]
        if kind == CEILING:
            argv = [py, str(BENCH_DIR / "ceiling.py"), "--port", str(port), *body_args]
        elif kind == TWISTED_WEB:
            argv = [py, str(BENCH_DIR / "twistedweb_peer.py"), "--port", str(port), *body_args]
        elif kind == TWISTED_WEB_HTML:
            argv = [
                py,
                str(BENCH_DIR / "twistedweb_peer.py"),
                "--port",
                str(port),
                *body_args,
                "--content-type",
                "text/html; charset=utf-8",
            ]
        elif kind == NATIVE:
            argv = [str(self.tools["nativeserver"]), str(port)]
        elif kind in (POT, POT_WEB):
            if self.pot.reason:
                raise ServerError(self.pot.reason)
            env = pot_env()
            data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=self.work_dir))
            pot_port = port if kind == POT else free_port()
            argv = [
                str(twistd_path()),
                "-n",
                "--pidfile=",
                "htcpcp",
                "--pot",
                f"tcp:{pot_port}:interface=127.0.0.1:backlog={backlog}",
                "--data-dir",
                str(data_dir),
            ]
            if config is not None:
                argv += ["--config", str(config)]
            if self.pot.has_brew_time:
                argv += ["--brew-time", "3600"]
            if kind == POT_WEB:
                if not self.pot.has_web:
                    raise ServerError("the htcpcp twistd plugin has no --web option yet")
                argv += ["--web", f"tcp:{port}:interface=127.0.0.1:backlog=1024"]
        else:
            raise ValueError(kind)
        log_path = self.work_dir / f"{kind.replace(' ', '-')}-{port}.log"
        server = ServerProcess(
            kind, self._pinned(self.server_cpu, argv), port, log_path, env, self.nice
        )
        try:
            server.wait_ready()
            if pot_port is not None:
                for request in (BREW_START, BREW_STOP):
                    status, _ = exchange(pot_port, request)
                    if status != 200:
                        raise ServerError(f"{kind}: priming BREW answered {status}")
        except (ServerError, OSError):
            server.stop()
            raise
        return server

    def load(
        self,
        server: ServerProcess,
        scenario: Scenario,
        seconds: float | None = None,
        warmup: float | None = None,
    ) -> dict[str, Any]:
        """Run the load generator once against a server; add the server's CPU use.

        It measures for ``seconds`` after ``warmup`` seconds (by default, the settings' times).
        """
        seconds = self.settings.seconds if seconds is None else seconds
        warmup = self.settings.warmup if warmup is None else warmup
        argv = [
            str(self.tools["loadgen"]),
            "-p",
            str(server.port),
            "-c",
            str(scenario.connections),
            "-d",
            str(scenario.depth),
            "-t",
            str(seconds),
            "-w",
            str(warmup),
        ]
        if scenario.fresh:
            argv.append("-f")
        for request in scenario.requests:
            argv += ["-r", c_escape(request)]
        cpu_before, wait_before, started = (
            server.cpu_seconds(),
            server.cpu_wait_seconds(),
            time.monotonic(),
        )
        ticks_before = self._cpu_ticks()
        client = spawn(
            self._pinned(self.client_cpu, argv),
            self.nice,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            stdout, stderr = client.communicate(timeout=seconds + warmup + 60)
        finally:
            client.kill()
            client.wait()
        elapsed = time.monotonic() - started
        if client.returncode != 0 or not stdout.strip():
            raise ServerError(f"load generator failed: {stderr.strip()}")
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        result["server_cpu"] = round((server.cpu_seconds() - cpu_before) / elapsed, 3)
        result["server_cpu_wait"] = round((server.cpu_wait_seconds() - wait_before) / elapsed, 3)
        steal_after, total_after = self._cpu_ticks()
        steal, total = steal_after - ticks_before[0], total_after - ticks_before[1]
        result["steal"] = round(steal / total, 3) if total else 0.0
        return result

    def _cpu_ticks(self) -> tuple[int, int]:
        """Steal and total ticks of the two pinned CPUs (of all CPUs when not pinned)."""
        names = {f"cpu{c}" for c in (self.server_cpu, self.client_cpu) if c is not None} or {"cpu"}
        steal = total = 0
        for line in Path("/proc/stat").read_text().splitlines():
            name, *ticks = line.split()
            if name in names:
                steal += int(ticks[7])
                total += sum(int(t) for t in ticks[:8])
        return steal, total

    def hold(self, server: ServerProcess, request: bytes | None) -> dict[str, Any]:
        """Hold idle connections open to a server and measure its RSS before and with them."""
        count = self.settings.idle_connections
        time.sleep(0.5)
        before_kib, before_fds = server.rss_kib(), server.fd_count()
        argv = [
            str(self.tools["loadgen"]),
            "-p",
            str(server.port),
            "-c",
            str(count),
            "-i",
            "-t",
            "60",
        ]
        if request is not None:
            argv += ["-r", c_escape(request)]
        client = spawn(
            self._pinned(self.client_cpu, argv),
            self.nice,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert client.stdin is not None and client.stdout is not None
        try:
            opened: dict[str, Any] = json.loads(client.stdout.readline())
            settle_fds(server, lambda n: n >= before_fds + opened["open"], 30)
            time.sleep(0.5)
            with_kib, with_fds = server.rss_kib(), server.fd_count()
            client.stdin.close()
            closed: dict[str, Any] = json.loads(client.stdout.readline())
        finally:
            client.kill()
            client.wait()
        held = with_fds - before_fds
        return {
            "requested": count,
            "opened": opened["open"],
            "errors": opened["errors"],
            "non2xx": opened["non2xx"],
            "held_by_server": held,
            "closed_by_server": closed["closed_by_server"],
            "rss_before_kib": before_kib,
            "rss_with_kib": with_kib,
            "per_connection_bytes": round((with_kib - before_kib) * 1024 / held)
            if held > 0
            else None,
        }

    def slow_clients(self, server: ServerProcess, fds_before: int) -> dict[str, Any]:
        """Attach ``SLOW_CLIENTS`` connections trickling a head; measure the normal client then.

        ``benchmarks/slowloris.py`` runs them, pinned with the load generator. Return what the
        slow clients were answered and when, the normal client's run while they were attached,
        the server's RSS without and with them, and its open descriptors with them and after.
        """
        rss_before = server.rss_kib()
        argv = [
            sys.executable,
            str(BENCH_DIR / "slowloris.py"),
            "--port",
            str(server.port),
            "--clients",
            str(SLOW_CLIENTS),
            "--ramp",
            str(SLOW_RAMP),
            "--interval",
            str(SLOW_INTERVAL),
            "--limit",
            str(HEAD_TIMEOUT + 15),
        ]
        began = time.monotonic()
        client = spawn(
            self._pinned(self.client_cpu, argv),
            self.nice,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert client.stdout is not None and client.stderr is not None
        try:
            opened: dict[str, Any] = json.loads(client.stdout.readline() or "{}")
            if "open" not in opened:
                raise ServerError("the slow clients did not start")
            fds_with = settle_fds(server, lambda n: n >= fds_before + opened["open"], 10)
            rss_with = server.rss_kib()
            normal = self.load(server, NORMAL_CLIENT, NORMAL_SECONDS, NORMAL_WARMUP)
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


def settle_fds(server: ServerProcess, done: Callable[[int], bool], timeout: float) -> int:
    """Poll the server's open descriptors until ``done(count)`` or ``timeout``; the last count."""
    deadline = time.monotonic() + timeout
    count = server.fd_count()
    while not done(count) and time.monotonic() < deadline:
        time.sleep(0.05)
        count = server.fd_count()
    return count


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return statistics.median(values) if values else None


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
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


def rps_per_cpu(run: dict[str, Any]) -> float:
    """Requests per second of server CPU time: throughput corrected for CPU taken by others."""
    return float(run["rps"] / run["server_cpu"]) if run["server_cpu"] else 0.0


def round_ratios(
    subject: list[dict[str, Any]],
    other: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], float] = lambda run: float(run["rps"]),
) -> list[float]:
    """key(subject) / key(other) in every round both were measured."""
    others = {r["round"]: key(r) for r in other}
    return [key(r) / others[r["round"]] for r in subject if others.get(r["round"])]


def paired_ratio(
    subject: list[dict[str, Any]],
    other: list[dict[str, Any]],
    key: Callable[[dict[str, Any]], float] = lambda run: float(run["rps"]),
) -> float | None:
    """Median over rounds of key(subject) / key(other), pairing the runs of each round."""
    return median(round_ratios(subject, other, key))


@contextmanager
def started(
    bench: Bench,
    kind: str,
    notes: dict[str, str],
    body: Path | None = None,
    *,
    backlog: int = 1024,
    config: Path | None = None,
) -> Iterator[ServerProcess | None]:
    """A running server, or None (with the reason in notes) if it cannot be started."""
    try:
        server = bench.start(kind, body, backlog=backlog, config=config)
    except (ServerError, OSError) as error:
        notes[kind] = str(error)
        print(f"skipping {kind}: {error}", file=sys.stderr)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """Send one request on a new connection; return the status and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ServerError(f"port {port} closed the connection before answering")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length is None:
            raise ServerError(f"port {port} answered without Content-Length")
        while len(body) < int(length[1]):
            chunk = sock.recv(65536)
            if not chunk:
                raise ServerError(f"port {port} closed the connection inside a body")
            body += chunk
    return int(head.split(b" ", 2)[1]), body


def fetch_home_page(port: int) -> bytes:
    """GET / from the web front end; the HTML the twisted.web peer will serve."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Host": "localhost"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise ServerError(f"the web home page answered {response.status} {response.reason}")
    return body


def measure_throughput(
    bench: Bench, scenarios: list[Scenario], notes: dict[str, str]
) -> tuple[dict[str, dict[str, list[dict[str, Any]]]], int | None]:
    """Alternate the servers of every scenario for the configured rounds.

    Return all runs and the size of the pot's GET body (which the peers answer with too).
    """
    kinds_of = {
        s.name: s.servers + ((NATIVE,) if s.name in NATIVE_SCENARIOS else ()) for s in scenarios
    }
    kinds = {kind for names in kinds_of.values() for kind in names}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {k: [] for k in names} for name, names in kinds_of.items()
    }
    with ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}

        def start(kind: str, body: Path | None = None) -> None:
            if kind in kinds:
                server = stack.enter_context(started(bench, kind, notes, body))
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
        for round_no in range(bench.settings.rounds):
            for scenario in scenarios:
                present = [k for k in kinds_of[scenario.name] if k in servers]
                if not present:
                    continue
                shift = round_no % len(present)
                for kind in present[shift:] + present[:shift]:
                    try:
                        result = bench.load(servers[kind], scenario)
                    except (ServerError, OSError) as error:
                        notes[kind] = f"dropped in round {round_no + 1}: {error}"
                        print(f"dropping {kind}: {error}", file=sys.stderr)
                        del servers[kind]
                        continue
                    result["round"] = round_no
                    runs[scenario.name][kind].append(result)
                    print(
                        f"round {round_no + 1}/{bench.settings.rounds}"
                        f" {scenario.name:<9} {kind:<16}"
                        f" {result['rps']:>10.0f} req/s  p99 {result['p99_us'] / 1000:6.2f} ms"
                        f"  errors {result['errors']} non-2xx {result['non2xx']}"
                        f"  loadgen cpu {result['cpu']:.2f} server cpu {result['server_cpu']:.2f}",
                        file=sys.stderr,
                    )
    return runs, body_size


def measure_memory(bench: Bench, notes: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    """RSS of each server (a fresh process each time) with the idle connections held."""
    memory: dict[str, dict[str, dict[str, Any]]] = {}
    for kind in MEMORY_SERVERS:
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


def measure_slowloris(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """The normal client alone, then with ``SLOW_CLIENTS`` slow clients until they are cut off.

    One pot server (its head deadline set to ``HEAD_TIMEOUT`` by a configuration file), one run
    of each; empty if the pot server cannot be started.
    """
    config = bench.work_dir / "slowloris.ini"
    config.write_text(f"[server]\nhead-timeout = {HEAD_TIMEOUT:g}\n")
    with started(bench, POT, notes, backlog=SLOW_BACKLOG, config=config) as server:
        if server is None:
            return {}
        time.sleep(0.2)
        fds_before = server.fd_count()
        try:
            alone = bench.load(server, NORMAL_CLIENT, NORMAL_SECONDS, NORMAL_WARMUP)
            settle_fds(server, lambda n: n <= fds_before, 5)
            result = bench.slow_clients(server, fds_before)
        except (ServerError, OSError) as error:
            notes["slowloris"] = f"not measured: {error}"
            print(f"slowloris: {error}", file=sys.stderr)
            return {}
    result = {
        "slow_clients": SLOW_CLIENTS,
        "interval_s": SLOW_INTERVAL,
        "ramp_s": SLOW_RAMP,
        "head_timeout_s": HEAD_TIMEOUT,
        "normal_client": NORMAL_CLIENT.title,
        "normal_alone": alone,
        **result,
    }
    for label, run in (("alone", alone), ("with slow clients", result["normal_with_slow"])):
        print(
            f"slowloris normal client {label:<17} {run['rps']:>8.0f} req/s"
            f"  p99 {run['p99_us'] / 1000:6.2f} ms  max {run['max_us'] / 1000:7.2f} ms"
            f"  errors {run['errors']} non-2xx {run['non2xx']}",
            file=sys.stderr,
        )
    print(
        f"slowloris {result['opened']} slow clients: answers {result['statuses']},"
        f" time to answer {result['cut_off_s']} s, fds {result['fds_before']} ->"
        f" {result['fds_with']} -> {result['fds_after']}",
        file=sys.stderr,
    )
    return result


def cut_off_with_408(slow: dict[str, Any]) -> int:
    """How many slow clients were answered 408."""
    return sum(n for line, n in slow.get("statuses", {}).items() if line.split()[1:2] == ["408"])


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or 'not measured'."""
    return "not measured" if value is None else format(value, spec)


def meets(value: float, op: str, bound: float) -> bool:
    """Whether ``value`` is on the right side of a target's ``bound`` (``op`` is >= or <)."""
    return value >= bound if op == ">=" else value < bound


def target_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """
    The issue's performance targets with the measured values, and for the
    throughput and latency targets how many rounds met them on their own.
    """
    scenarios = results["scenarios"]

    def runs(scenario: str, kind: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = scenarios.get(scenario, {}).get("runs", {}).get(kind, [])
        return found

    def ratio(scenario: str, subject: str, other: str) -> tuple[float | None, list[float]]:
        ratios: dict[str, float | None] = scenarios.get(scenario, {}).get("ratios", {})
        return ratios.get(other), round_ratios(runs(scenario, subject), runs(scenario, other))

    keepalive = scenarios.get("keepalive", {}).get("summary", {}).get(POT, {})
    p99s = [r["p99_us"] / 1000 for r in runs("keepalive", POT)]
    pot_memory = results["memory"].get(POT, {})
    worst_rss = max((m["rss_with_kib"] * 1024 / MB for m in pot_memory.values()), default=None)
    slow = results["slowloris"]
    targets: list[tuple[str, tuple[float | None, list[float]], str, float, str]] = [
        ("keep-alive GET / ceiling", ratio("keepalive", POT, CEILING), ">=", 0.6, ".2f"),
        ("keep-alive GET / twisted.web", ratio("keepalive", POT, TWISTED_WEB), ">=", 2.0, ".2f"),
        ("pipelined GET / ceiling", ratio("pipelined", POT, CEILING), ">=", 0.4, ".2f"),
        ("connection per request / ceiling", ratio("fresh", POT, CEILING), ">=", 0.8, ".2f"),
        (
            f"RSS with {results['settings']['idle_connections']:,} idle connections (MB)",
            (worst_rss, []),
            "<",
            200.0,
            ".1f",
        ),
        (
            "p99 latency at 50 connections (ms)",
            (keepalive.get("p99_ms"), p99s),
            "<",
            20.0,
            ".2f",
        ),
        (
            "web home page / twisted.web",
            ratio("web", POT_WEB, TWISTED_WEB_HTML),
            ">=",
            1 / 3,
            ".2f",
        ),
        (
            f"share of {SLOW_CLIENTS:,} slow clients cut off with 408",
            (cut_off_with_408(slow) / slow["slow_clients"] if slow else None, []),
            ">=",
            1.0,
            ".2f",
        ),
    ]
    rows = []
    for name, (value, per_round), op, bound, spec in targets:
        met = None if value is None else meets(value, op, bound)
        rounds = (
            f"{sum(meets(each, op, bound) for each in per_round)} of {len(per_round)}"
            f" ({fmt(min(per_round), spec)} to {fmt(max(per_round), spec)})"
            if per_round
            else "—"
        )
        rows.append(
            {
                "target": f"{name} {op} {bound:.3g}",
                "measured": fmt(value, spec),
                "met": met,
                "rounds": rounds,
            }
        )
    return rows


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def slowloris_tables(slow: dict[str, Any]) -> str:
    """The normal client with and without the slow clients, and what became of the slow ones."""
    rows = []
    for label, run in (
        ("alone", slow["normal_alone"]),
        (f"with {slow['slow_clients']:,} slow clients", slow["normal_with_slow"]),
    ):
        rows.append(
            [
                label,
                f"{run['rps']:,.0f}",
                f"{run['p50_us'] / 1000:.2f}",
                f"{run['p99_us'] / 1000:.2f}",
                f"{run['max_us'] / 1000:.2f}",
                f"{run['errors']} / {run['non2xx']}",
                f"{run['server_cpu']:.0%}",
            ]
        )
    header = [f"normal client ({slow['normal_client']})", "req/s", "p50 ms", "p99 ms", "max ms"]
    normal = markdown_table([*header, "errors / non-2xx", "server CPU"], rows)
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
        ["normal client's run ended after (s)", f"{slow['normal_ended_s']:.1f}"],
        [
            "server RSS without / with them (MB)",
            f"{slow['rss_before_kib'] * 1024 / MB:.1f} / {slow['rss_with_kib'] * 1024 / MB:.1f}",
        ],
        [
            "server open descriptors before / with them / after",
            f"{slow['fds_before']:,} / {slow['fds_with']:,} / {slow['fds_after']:,}",
        ],
    ]
    header = [
        f"slow clients (a header line every {slow['interval_s']:g} s,"
        f" head deadline {slow['head_timeout_s']:g} s)",
        "measured",
    ]
    return normal + "\n\n" + markdown_table(header, rows)


def report(results: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    out = []
    rows, cpu_rows = [], []
    for scenario in SCENARIOS:
        data = results["scenarios"].get(scenario.name)
        if not data:
            continue
        subject = scenario.servers[0]
        for kind in scenario.servers:
            summary = data["summary"].get(kind)
            if summary is None:
                rows.append([scenario.title, kind] + ["not measured"] * 5)
                cpu_rows.append([scenario.title, kind] + ["not measured"] * 5)
                continue
            is_subject = kind == subject
            rows.append(
                [
                    scenario.title,
                    kind,
                    f"{summary['rps']:,.0f}",
                    "—" if is_subject else fmt(data["ratios"].get(kind), ".2f"),
                    f"{summary['p50_ms']:.2f}",
                    f"{summary['p99_ms']:.2f}",
                    f"{summary['errors']} / {summary['non2xx']}",
                ]
            )
            cpu_rows.append(
                [
                    scenario.title,
                    kind,
                    f"{summary['loadgen_cpu']:.0%}",
                    f"{summary['server_cpu']:.0%}",
                    f"{summary['server_cpu_wait']:.0%}",
                    f"{summary['rps_per_cpu']:,.0f}",
                    "—" if is_subject else fmt(data["ratios_per_cpu"].get(kind), ".2f"),
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
    out.append(markdown_table(header, rows))
    header = [
        "scenario",
        "server",
        "loadgen CPU",
        "server CPU",
        "server waiting for CPU",
        "req per server CPU-s",
        "subject ÷ server",
    ]
    out.append(markdown_table(header, cpu_rows))
    capacity_rows = []
    for name in NATIVE_SCENARIOS:
        summaries = results["scenarios"].get(name, {}).get("summary", {})
        native, ceiling = summaries.get(NATIVE), summaries.get(CEILING)
        if native is None or ceiling is None:
            continue
        capacity_rows.append(
            [
                name,
                f"{native['rps']:,.0f}",
                f"{native['loadgen_cpu']:.0%}",
                f"{ceiling['rps']:,.0f}",
                f"{ceiling['loadgen_cpu']:.0%}",
                f"{native['rps'] / ceiling['rps']:.1f}",
            ]
        )
    if capacity_rows:
        header = [
            "load",
            "native server req/s",
            "loadgen CPU",
            "ceiling req/s",
            "loadgen CPU",
            "native ÷ ceiling",
        ]
        out.append(markdown_table(header, capacity_rows))
    memory_rows = []
    for kind, states in results["memory"].items():
        for state, mem in states.items():
            memory_rows.append(
                [
                    kind,
                    state,
                    f"{mem['held_by_server']:,}",
                    f"{mem['rss_before_kib'] * 1024 / MB:.1f}",
                    f"{mem['rss_with_kib'] * 1024 / MB:.1f}",
                    fmt(mem["per_connection_bytes"], ",.0f"),
                ]
            )
    if memory_rows:
        header = [
            "server",
            "idle connections",
            "held",
            "RSS before MB",
            "RSS with them MB",
            "bytes per connection",
        ]
        out.append(markdown_table(header, memory_rows))
    slow = results["slowloris"]
    if slow:
        out.append(slowloris_tables(slow))
    target_table = [
        [
            t["target"],
            t["measured"],
            {True: "met", False: "NOT met", None: "not measured"}[t["met"]],
            t.get("rounds", "—"),
        ]
        for t in results["targets"]
    ]
    out.append(
        markdown_table(
            ["target", "measured (median)", "result", "rounds meeting it alone (range)"],
            target_table,
        )
    )
    for kind, note in results["notes"].items():
        out.append(f"- {kind}: {note.splitlines()[0]}")
    return "\n\n".join(out)


def main() -> None:
    """Parse arguments, measure, print the tables and write the JSON results."""
    parser = argparse.ArgumentParser(
        description="Benchmark the htcpcp pot server against its ceiling and twisted.web."
    )
    parser.add_argument("--quick", action="store_true", help="2 short rounds (under 2 minutes)")
    parser.add_argument("--rounds", type=int, help="rounds per scenario")
    parser.add_argument("--seconds", type=float, help="measured seconds per run")
    parser.add_argument(
        "--only",
        help="comma-separated subset: "
        + ", ".join([s.name for s in SCENARIOS] + ["memory", "slowloris"]),
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness of the servers and load generator (default -10, if permitted; 0 to keep)",
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH_DIR / "results.json", help="where to write the JSON"
    )
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    settings = Settings(
        rounds=args.rounds or base.rounds,
        seconds=args.seconds or base.seconds,
        warmup=base.warmup,
        idle_connections=base.idle_connections,
    )
    wanted = set(args.only.split(",")) if args.only else None
    scenarios = [s for s in SCENARIOS if wanted is None or s.name in wanted]
    fd_limit = raise_fd_limit(settings.idle_connections + 1024)
    if fd_limit < settings.idle_connections + 64:
        settings = Settings(settings.rounds, settings.seconds, settings.warmup, fd_limit - 64)
    started_at = time.time()
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="htcpcp-bench-") as tmp:
        work_dir = Path(tmp)
        tools = compile_tools(work_dir)
        pot = probe_pot()
        if pot.reason:
            print(f"pot server unavailable: {pot.reason}", file=sys.stderr)
        bench = Bench(settings, tools, work_dir, pot, args.nice)
        notes: dict[str, str] = {}
        if bench.server_cpu is None:
            notes["pinning"] = "not pinned: taskset or a second CPU is missing"
        runs, body_size = measure_throughput(bench, scenarios, notes)
        memory = measure_memory(bench, notes) if wanted is None or "memory" in wanted else {}
        slow = measure_slowloris(bench, notes) if wanted is None or "slowloris" in wanted else {}
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "duration_seconds": round(time.time() - started_at, 1),
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "machine": machine,
        "settings": {**settings.__dict__, "fd_limit": fd_limit},
        "pinning": {"server_cpu": bench.server_cpu, "loadgen_cpu": bench.client_cpu},
        "niceness": bench.nice,
        "scenarios": {},
        "memory": memory,
        "slowloris": slow,
        "get_body_bytes": body_size,
        "notes": notes,
    }
    for scenario in scenarios:
        by_server = runs[scenario.name]
        subject = scenario.servers[0]
        results["scenarios"][scenario.name] = {
            "title": scenario.title,
            "connections": scenario.connections,
            "depth": scenario.depth,
            "fresh": scenario.fresh,
            "requests": [r.decode("latin-1") for r in scenario.requests],
            "summary": {kind: summarize(r) for kind, r in by_server.items() if r},
            "ratios": {
                kind: paired_ratio(by_server[subject], r)
                for kind, r in by_server.items()
                if kind not in (subject, NATIVE)
            },
            "ratios_per_cpu": {
                kind: paired_ratio(by_server[subject], r, rps_per_cpu)
                for kind, r in by_server.items()
                if kind not in (subject, NATIVE)
            },
            "runs": by_server,
        }
    waits = [
        summary["server_cpu_wait"]
        for data in results["scenarios"].values()
        for kind, summary in data["summary"].items()
        if kind in (CEILING, TWISTED_WEB, TWISTED_WEB_HTML)  # single-threaded Python peers
    ]
    if waits and max(waits) > CONTENDED:
        notes["contention"] = (
            f"other processes kept the servers waiting for a CPU up to {max(waits):.0%} of the"
            " time (median of a scenario); absolute numbers are low and ratios less reliable"
        )
    results["targets"] = target_rows(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\nwrote {args.output} in {results['duration_seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
