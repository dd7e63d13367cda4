"""The servers of the benchmark harness and how they are started and loaded.

Part of ``benchmarks/run.py``. The subject is the pot server (``twistd htcpcp``, straight from the
repository) and its web front end; the peers are the ceiling (``ceiling.py``: canned bytes behind a
``LineReceiver``, over TCP or behind the pot's own TLS context), plain twisted.web
(``twistedweb_peer.py``) serving the same bytes, and a native C server that only measures the load
generator. ``Bench`` starts them pinned to one core and runs the C load generator, pinned to the
other, against them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loads import BREW_POTS, BREW_START, BREW_STOP, Load
from processes import (
    BENCH_DIR,
    REPO_DIR,
    ClientLines,
    ServerError,
    ServerProcess,
    c_escape,
    exchange,
    free_port,
    settle_fds,
    spawn,
)

POT = "pot"
CEILING = "ceiling"
TWISTED_WEB = "twisted.web"
NATIVE = "native"
POT_WEB = "pot web"
TWISTED_WEB_HTML = "twisted.web html"
POT_TLS = "pot tls"
CEILING_TLS = "ceiling tls"
POT_POTS = f"pot, {BREW_POTS} pots"
"""A pot server with a configuration of its own (the durable BREW cycles' subject)."""
POTS = (POT, POT_POTS, POT_WEB, POT_TLS)
CERTIFICATE = "server.pem"
"""The key and certificate a bare ``ssl:`` pot endpoint generates in its data directory."""


@dataclass(frozen=True)
class PluginProbe:
    """What the installed ``htcpcp`` twistd plugin offers."""

    reason: str  # why the pot server cannot be started; empty when it can
    has_web: bool
    has_brew_time: bool


@dataclass(frozen=True)
class Settings:
    """How long and how often to measure."""

    rounds: int
    seconds: float
    warmup: float
    idle_connections: int
    quick: bool


def twistd_path() -> str | None:
    """The twistd script of the running Python, or one on PATH."""
    beside = Path(sys.executable).with_name("twistd")
    return str(beside) if beside.exists() else shutil.which("twistd")


def pot_env() -> dict[str, str]:
    """Environment for twistd: the repository first on the path (the plugin needs no install)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    return env


def probe_pot() -> PluginProbe:
    """Ask twistd whether the htcpcp plugin exists and which options it has."""
    twistd = twistd_path()
    if twistd is None:
        return PluginProbe("twistd not found", has_web=False, has_brew_time=False)
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
        return PluginProbe(
            f"the htcpcp twistd plugin is not available ({detail[0]})",
            has_web=False,
            has_brew_time=False,
        )
    return PluginProbe(
        "",
        has_web=re.search(r"--web(?![\w-])", proc.stdout) is not None,
        has_brew_time="--brew-time" in proc.stdout,
    )


@dataclass(frozen=True)
class PotSetup:
    """How a pot server is started: its data, configuration and extra endpoints."""

    backlog: int = 1024
    config: Path | None = None
    data_dir: Path | None = None  # a prepared data directory (a history), else a fresh one
    prime: bool = True  # one BREW start and stop before measuring


DEFAULT_SETUP = PotSetup()


class Bench:
    """Starts servers and load generators with the chosen pinning and collects results."""

    def __init__(
        self,
        settings: Settings,
        tools: dict[str, Path],
        work_dir: Path,
        pot: PluginProbe,
        nice: int,
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

    def pinned(self, cpu: int | None, argv: list[str]) -> list[str]:
        """``argv`` run on ``cpu`` (as is when not pinning)."""
        return argv if cpu is None else ["taskset", "-c", str(cpu), *argv]

    def client(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a client program on the load generator's core."""
        return spawn(self.pinned(self.client_cpu, argv), self.nice, **kwargs)

    @contextmanager
    def talking_client(self, argv: list[str]) -> Iterator[ClientLines]:
        """A client program speaking JSON lines (L{ClientLines}), killed when done with."""
        process = self.client(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            yield ClientLines(process)
        finally:
            process.kill()
            process.wait()

    def _peer_argv(self, kind: str, port: int, body: Path | None, tls: Path | None) -> list[str]:
        py = sys.executable
        body_args = [] if body is None else ["--body", str(body)]
        if kind in (CEILING, CEILING_TLS):
            tls_args = ["--tls", str(tls)] if kind == CEILING_TLS and tls else []
            return [py, str(BENCH_DIR / "ceiling.py"), "--port", str(port), *body_args, *tls_args]
        if kind in (TWISTED_WEB, TWISTED_WEB_HTML):
            html = (
                ["--content-type", "text/html; charset=utf-8"] if kind == TWISTED_WEB_HTML else []
            )
            return [
                py,
                str(BENCH_DIR / "twistedweb_peer.py"),
                "--port",
                str(port),
                *body_args,
                *html,
            ]
        if kind == NATIVE:
            return [str(self.tools["nativeserver"]), str(port)]
        raise ValueError(kind)

    def _pot_argv(self, kind: str, port: int, plain_port: int, setup: PotSetup) -> list[str]:
        if self.pot.reason:
            raise ServerError(self.pot.reason)
        data_dir = setup.data_dir or Path(tempfile.mkdtemp(prefix="data-", dir=self.work_dir))
        local = f"interface=127.0.0.1:backlog={setup.backlog}"
        argv = [str(twistd_path()), "-n", "--pidfile=", "htcpcp", "--data-dir", str(data_dir)]
        argv += ["--pot", f"tcp:{plain_port}:{local}"]
        if kind == POT_TLS:
            argv += ["--pot", f"ssl:{port}:{local}"]
        if setup.config is not None:
            argv += ["--config", str(setup.config)]
        if self.pot.has_brew_time:
            argv += ["--brew-time", "3600"]
        if kind == POT_WEB:
            if not self.pot.has_web:
                raise ServerError("the htcpcp twistd plugin has no --web option yet")
            argv += ["--web", f"tcp:{port}:interface=127.0.0.1:backlog=1024"]
        return argv

    def start(
        self,
        kind: str,
        body: Path | None = None,
        *,
        setup: PotSetup = DEFAULT_SETUP,
        tls: Path | None = None,
    ) -> ServerProcess:
        """Start a server of the given kind and wait until it listens.

        ``body`` is what the ceiling and the twisted.web peers answer with, ``tls`` the key and
        certificate of the TLS ceiling; ``setup`` says how a pot server is started. A pot server
        listens on a plain port (``pot_port``) besides its TLS or web port, and is primed with one
        BREW start and stop there, so that every GET sees the same pot: one whose last brew was
        stopped (the lab's full JSON status, not the empty pot's ``{}``).
        """
        port = free_port()
        is_pot = kind in POTS
        plain_port = port if kind in (POT, POT_POTS) else free_port()
        if is_pot:
            argv, env = self._pot_argv(kind, port, plain_port, setup), pot_env()
        else:
            argv, env = self._peer_argv(kind, port, body, tls), dict(os.environ)
        log_path = self.work_dir / f"{kind.replace(' ', '-')}-{port}.log"
        server = ServerProcess(
            kind, self.pinned(self.server_cpu, argv), port, log_path, env, self.nice
        )
        server.pot_port = plain_port if is_pot else None
        server.data_dir = Path(argv[argv.index("--data-dir") + 1]) if is_pot else None
        try:
            server.startup_s = server.wait_ready()
            if is_pot and setup.prime:
                for request in (BREW_START, BREW_STOP):
                    status, _ = exchange(plain_port, request)
                    if status != 200:
                        raise ServerError(f"{kind}: priming BREW answered {status}")
        except (ServerError, OSError):
            server.stop()
            raise
        return server

    def load(
        self,
        server: ServerProcess,
        load: Load,
        seconds: float | None = None,
        warmup: float | None = None,
        *,
        port: int | None = None,
        total: int | None = None,
    ) -> dict[str, Any]:
        """Run the load generator once against a server; add the server's CPU use.

        It measures for ``seconds`` (or until ``total`` answers) after ``warmup`` seconds (by
        default, the settings' times), on the server's port or ``port``.
        """
        seconds = self.settings.seconds if seconds is None else seconds
        warmup = self.settings.warmup if warmup is None else warmup
        argv = [str(self.tools["loadgen"]), "-p", str(port or server.port)]
        argv += ["-c", str(load.connections), "-d", str(load.depth), "-w", str(warmup)]
        argv += ["-n", str(total)] if total else ["-t", str(seconds)]
        if load.fresh:
            argv.append("-f")
        if load.groups > 1:
            argv += ["-g", str(load.groups)]
        for request in load.requests:
            argv += ["-r", c_escape(request)]
        return self.run_client(server, argv, seconds + warmup + 120)

    def run_client(self, server: ServerProcess, argv: list[str], timeout: float) -> dict[str, Any]:
        """Run a client program that prints a JSON line; add the server's CPU use meanwhile."""
        cpu_before, wait_before = server.cpu_seconds(), server.cpu_wait_seconds()
        started, ticks_before = time.monotonic(), self._cpu_ticks()
        client = self.client(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = client.communicate(timeout=timeout)
        finally:
            client.kill()
            client.wait()
        elapsed = time.monotonic() - started
        if client.returncode != 0 or not stdout.strip():
            raise ServerError(f"{Path(argv[0]).name} failed: {stderr.strip()[-500:]}")
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        result["server_cpu"] = round((server.cpu_seconds() - cpu_before) / elapsed, 3)
        result["server_cpu_wait"] = round((server.cpu_wait_seconds() - wait_before) / elapsed, 3)
        steal_after, total_after = self._cpu_ticks()
        steal, ticks = steal_after - ticks_before[0], total_after - ticks_before[1]
        result["steal"] = round(steal / ticks, 3) if ticks else 0.0
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
        argv = [str(self.tools["loadgen"]), "-p", str(server.port), "-c", str(count), "-i"]
        argv += ["-t", "60", *(["-r", c_escape(request)] if request is not None else [])]
        client = self.client(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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


@contextmanager
def started(
    bench: Bench,
    kind: str,
    notes: dict[str, str],
    body: Path | None = None,
    *,
    setup: PotSetup = DEFAULT_SETUP,
    tls: Path | None = None,
) -> Iterator[ServerProcess | None]:
    """A running server, or None (with the reason in notes) if it cannot be started."""
    try:
        server = bench.start(kind, body, setup=setup, tls=tls)
    except (ServerError, OSError) as error:
        notes[kind] = str(error)
        print(f"skipping {kind}: {error}", file=sys.stderr)
        yield None
        return
    try:
        yield server
    finally:
        server.stop()
