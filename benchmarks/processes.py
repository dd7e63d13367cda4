"""Processes of the benchmark harness: starting, pinning, watching and stopping them.

Part of ``benchmarks/run.py``. A server under test is a subprocess listening on a loopback port
(``ServerProcess``), read through ``/proc`` for its CPU time, RSS, descriptors and time spent
waiting for a CPU; every process runs in a session of its own at the harness's niceness
(``spawn``). Also here: the C tools compiled at run time, the machine's description, and one
request on a fresh connection (``exchange``) for priming and probing servers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import twisted

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CONNECT_TIMEOUT = 60.0
TOOLS = ("loadgen", "nativeserver")
"""The C programs compiled at run time, each from ``benchmarks/NAME.c``."""


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
        self.pot_port: int | None = None  # a pot server's plain-TCP port
        self.data_dir: Path | None = None  # a pot server's data directory
        self.startup_s: float | None = None  # from spawn to listening
        self.spawned_at = time.monotonic()
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

    @property
    def pid(self) -> int:
        """The process id (of ``taskset``'s successor: taskset execs the server)."""
        return self._proc.pid

    def wait_ready(self) -> float:
        """Wait until the port accepts connections; return the seconds since the spawn."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with status {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.01)
            else:
                return time.monotonic() - self.spawned_at
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

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as a crash would."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def stop(self) -> None:
        """Terminate the process, killing it if it does not exit."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


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
    """Compile the C tools (``TOOLS``); return their paths."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        sys.exit("run.py: gcc is needed to build the load generator")
    tools = {}
    for name in TOOLS:
        binary = build_dir / name
        subprocess.run(
            [gcc, "-O2", "-std=gnu11", "-Wall", "-o", str(binary), str(BENCH_DIR / f"{name}.c")],
            check=True,
        )
        tools[name] = binary
    return tools


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


def git_commit() -> str:
    """The repository's commit (with ``+`` when the work tree has changes), or ``unknown``."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+" if dirty else "")


def _git(*arguments: str) -> str:
    done = subprocess.run(
        ["git", *arguments], capture_output=True, text=True, cwd=REPO_DIR, timeout=10, check=True
    )
    return done.stdout.strip()


def settle_fds(server: ServerProcess, done: Callable[[int], bool], timeout: float) -> int:
    """Poll the server's open descriptors until ``done(count)`` or ``timeout``; the last count."""
    deadline = time.monotonic() + timeout
    count = server.fd_count()
    while not done(count) and time.monotonic() < deadline:
        time.sleep(0.05)
        count = server.fd_count()
    return count


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


class ClientLines:
    """
    A client program of the harness that says what it did as JSON lines on its standard
    output and is told when to go on by lines on its standard input.
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        self.process = process
        self._stdin, self._stdout, self._stderr = process.stdin, process.stdout, process.stderr

    def read(self, expected: str | None = None, failure: str = "") -> dict[str, Any]:
        """The next line's JSON; without the key C{expected}, a L{ServerError} saying C{failure}."""
        said: dict[str, Any] = json.loads(self._stdout.readline() or "{}")
        if expected is not None and expected not in said:
            raise ServerError(f"{failure}: {self._stderr.read()[-300:]}")
        return said

    def say(self, line: str) -> None:
        self._stdin.write(line + "\n")
        self._stdin.flush()

    def end_input(self) -> None:
        """Tell the client to finish (it sees the end of its input)."""
        self._stdin.close()
