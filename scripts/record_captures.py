"""Record the sample captures in ``sample_capture/`` from this project's own pot server.

    sudo .venv/bin/python scripts/record_captures.py                   # all, into sample_capture/
    sudo .venv/bin/python scripts/record_captures.py --only pipelined --out /tmp/caps

The script starts ``twistd htcpcp`` itself on free loopback ports (one plain TCP endpoint and
one ``ssl:`` endpoint with a generated self-signed certificate, plus ``--web`` when the plugin
has that option), then records each scenario into its own pcapng with ``dumpcap`` while it
drives the server with plain sockets.  Each scenario (``capture_scenarios.py``) sends every
piece as its own TCP segment: a request split over five segments really is five segments on the
wire.

dumpcap announces "Capturing on" before it is really capturing and drops packets still in its
ring buffer when stopped, so each recording uses a marker handshake: UDP datagrams carrying a
random token are sent to a local port until the token shows up in the output file (start), and
again after the scenario (stop; packets are written in order, so everything before the marker
is on disk).  The markers are then filtered out with tshark.

Capturing on ``lo`` needs root or a dumpcap with cap_net_raw/cap_net_admin.  The TLS capture
``tls.pcapng`` is encrypted (for contrast); ``tls_with_keys.pcapng`` holds the same packets plus
that session's throwaway secrets in a pcapng Decryption Secrets Block (``editcap
--inject-secrets``), so Wireshark shows the HTCPCP inside without any set-up.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from capture_scenarios import BREW_TIME, SCENARIOS, Ports

REPO = Path(__file__).resolve().parent.parent
DISSECTOR = REPO / "dissector" / "htcpcp.lua"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the server ---------------------------------------------------------------------------


def twistd_command() -> list[str]:
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def plugin_has_web() -> bool:
    result = subprocess.run(
        [*twistd_command(), "htcpcp", "--help"], capture_output=True, text=True, check=False
    )
    return "--web" in result.stdout


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    def log_text() -> str:
        return log.read_text(errors="replace") if log.exists() else "(no log)"

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"twistd exited with {process.returncode}:\n{log_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after 20 s:\n{log_text()}")


@contextlib.contextmanager
def pot_server(workdir: Path, with_web: bool) -> Iterator[Ports]:
    ports = Ports(
        pot=free_port(),
        tls=free_port(),
        web=free_port() if with_web else None,
        tls_keylog=workdir / "tls-keys.log",
    )
    log = workdir / "twistd.log"
    command = [
        *twistd_command(),
        "-n",
        "--pidfile=",
        f"--logfile={log}",
        "htcpcp",
        "--pot",
        f"tcp:{ports.pot}:interface=127.0.0.1",
        "--pot",
        f"ssl:{ports.tls}:interface=127.0.0.1",
        "--data-dir",
        str(workdir / "data"),
        "--brew-time",
        str(BREW_TIME),
    ]
    if ports.web is not None:
        command += ["--web", f"tcp:{ports.web}:interface=127.0.0.1"]
    process = subprocess.Popen(command, cwd=REPO)
    try:
        for port in (ports.pot, ports.tls, ports.web):
            if port is not None:
                wait_for_port(port, process, log)
        yield ports
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- capturing ----------------------------------------------------------------------------


class LoopbackCapture:
    """dumpcap on lo with a start/stop marker handshake (see the module docstring)."""

    def __init__(self, path: Path, bpf: str) -> None:
        self.path = path
        self.token = uuid.uuid4().hex.encode()
        self.marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.marker.bind(("127.0.0.1", 0))  # a bound receiver: no ICMP port-unreachable noise
        self.marker_port = int(self.marker.getsockname()[1])
        self.bpf = f"({bpf}) or (udp dst port {self.marker_port})"
        self.process: subprocess.Popen[bytes] | None = None

    def _handshake(self, word: bytes) -> None:
        token = self.token + b"-" + word
        deadline = time.monotonic() + 10
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read() if self.process.stderr else b""
                    raise RuntimeError(f"dumpcap exited: {stderr.decode(errors='replace')}")
                sender.sendto(token, ("127.0.0.1", self.marker_port))
                with contextlib.suppress(FileNotFoundError):
                    if token in self.path.read_bytes():
                        return
                time.sleep(0.05)
        raise RuntimeError(f"marker {word.decode()} never reached {self.path}")

    def __enter__(self) -> LoopbackCapture:
        self.process = subprocess.Popen(
            ["dumpcap", "-q", "-i", "lo", "-s", "0", "-f", self.bpf, "-w", str(self.path)],
            stderr=subprocess.PIPE,
        )
        self._handshake(b"start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        try:
            if exc_info[0] is None:
                self._handshake(b"stop")
        finally:
            self.process.send_signal(signal.SIGINT)
            returncode = self.process.wait(timeout=10)
            self.marker.close()
        if exc_info[0] is None and returncode != 0:
            raise RuntimeError(f"dumpcap exited with {returncode}")

    def strip_markers(self, destination: Path) -> None:
        subprocess.run(
            [
                "tshark",
                "-r",
                str(self.path),
                "-Y",
                f"not udp.port == {self.marker_port}",
                "-F",
                "pcapng",
                "-w",
                str(destination),
            ],
            check=True,
            capture_output=True,
        )


def inject_secrets(source: Path, keylog: Path, destination: Path) -> None:
    """Copy ``source`` with the TLS key log embedded (a pcapng Decryption Secrets Block)."""
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{keylog}", str(source), str(destination)],
        check=True,
        capture_output=True,
    )


def summarise(path: Path) -> str:
    result = subprocess.run(
        ["tshark", "-n", "-2", "-X", f"lua_script:{DISSECTOR}", "-r", str(path), "-Y", "htcpcp"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "sample_capture",
        help="directory for the .pcapng files (default: sample_capture/)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[s.name for s in SCENARIOS],
        help="record only this scenario (repeatable)",
    )
    args = parser.parse_args(argv)
    for tool in ("dumpcap", "tshark", "editcap"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (Debian: apt-get install tshark)")

    wanted = [s for s in SCENARIOS if not args.only or s.name in args.only]
    with_web = plugin_has_web()
    if not with_web:
        print("twistd htcpcp has no --web option yet: skipping the web scenario", flush=True)
        wanted = [s for s in wanted if s.name != "web"]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="htcpcp-capture-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # dumpcap may drop privileges before writing
        with pot_server(workdir, with_web) as ports:
            for scenario in wanted:
                raw = workdir / f"{scenario.name}.raw.pcapng"
                capture = LoopbackCapture(raw, scenario.filter(ports))
                with capture:
                    scenario.run(ports)
                targets = [args.out / f"{scenario.name}.pcapng"]
                capture.strip_markers(targets[0])
                if scenario.with_keys:
                    targets.append(args.out / f"{scenario.name}_with_keys.pcapng")
                    inject_secrets(targets[0], ports.tls_keylog, targets[1])
                for target in targets:
                    print(f"== {target}")
                    print(summarise(target), end="", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
