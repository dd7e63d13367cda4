"""Record the sample captures in ``sample_capture/`` from this project's own pot server.

    sudo .venv/bin/python scripts/record_captures.py                   # all, into sample_capture/
    sudo .venv/bin/python scripts/record_captures.py --only pipelined --out /tmp/caps

The script starts ``twistd htcpcp`` itself on free loopback ports (one plain TCP endpoint and
one ``ssl:`` endpoint with a generated self-signed certificate, plus ``--web`` when the plugin
has that option), then records each scenario into its own pcapng with ``dumpcap`` while it
drives the server with plain sockets.  Every ``send()`` of a scenario is written with
TCP_NODELAY and followed by a short pause, so each piece is one TCP segment: a request split
over five segments really is five segments on the wire.

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
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DISSECTOR = REPO / "dissector" / "htcpcp.lua"
SEGMENT_GAP = 0.05  # pause after each write so that it leaves as its own TCP segment
BREW_TIME = 1.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ports:
    pot: int
    tls: int
    web: int | None
    tls_keylog: Path


class Connection:
    """A client connection whose every send() is one TCP segment."""

    def __init__(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
        self.buffer = b""

    def send(self, *pieces: bytes) -> None:
        for piece in pieces:
            self.sock.sendall(piece)
            time.sleep(SEGMENT_GAP)

    def read_until_closed(self) -> bytes:
        chunks = [self.buffer]
        while data := self.sock.recv(65536):
            chunks.append(data)
        self.buffer = b""
        return b"".join(chunks)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection mid-response")
        self.buffer += data

    def response(self, head: bool = False) -> tuple[int, bytes]:
        """Read one response (our server always sends Content-Length); return code, bytes."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head_end = self.buffer.index(b"\r\n\r\n") + 4
        header = self.buffer[:head_end].decode("latin-1")
        code = int(header.split(" ", 2)[1])
        match = re.search(r"(?im)^content-length:\s*(\d+)\s*$", header)
        length = 0 if head or match is None else int(match.group(1))
        while len(self.buffer) < head_end + length:
            self._fill()
        message = self.buffer[: head_end + length]
        self.buffer = self.buffer[head_end + length :]
        return code, message

    def expect(self, *codes: int, head: bool = False) -> None:
        for code in codes:
            got, message = self.response(head=head)
            if got != code:
                raise RuntimeError(f"expected {code}, got {got}: {message[:200]!r}")

    def close(self) -> None:
        self.sock.close()


def request(
    method: str,
    target: str,
    *,
    version: str = "HTCPCP/1.1",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> bytes:
    lines = [f"{method} {target} {version}"]
    all_headers = dict(headers or {})
    if body is not None:
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


COFFEE = {"Content-Type": "message/coffeepot"}
TEA = {"Content-Type": "message/teapot"}
TEA_VERSION = "HTCPCP-TEA/1.0"


# --- scenarios ----------------------------------------------------------------------------


def brew_milk_when(ports: Ports) -> None:
    """BREW with milk (Cream) and Whisky, watch the pot, then say WHEN to stop the milk."""
    conn = Connection(ports.pot)
    additions = {**COFFEE, "Accept-Additions": "Cream;q=0.5, Whisky"}
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=additions, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "coffee://ducky/pot-0"))
    conn.expect(200)
    time.sleep(BREW_TIME + 0.5)  # brewing ends, the milk starts pouring
    conn.send(request("GET", "coffee://ducky/pot-0"))
    conn.expect(200)
    conn.send(request("WHEN", "coffee://ducky/pot-0", body=b""))
    conn.expect(200)
    conn.send(request("PROPFIND", "coffee://ducky/pot-0", headers={"Connection": "close"}))
    conn.expect(200)
    conn.close()


def refusals_418_406(ports: Ports) -> None:
    """Coffee asked of the teapot (418) and an addition the pot lacks (406)."""
    conn = Connection(ports.pot)
    conn.send(request("BREW", "coffee://ducky/pot-1", headers=COFFEE, body=b"start"))
    conn.expect(418)
    tea_please = {**COFFEE, "Accept-Additions": "tea"}
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=tea_please, body=b"start"))
    conn.expect(406)
    # HEAD responses carry the Content-Length of the body they leave out.
    conn.send(request("HEAD", "coffee://ducky/pot-0", headers={"Accept-Additions": "Cheese"}))
    conn.expect(406, head=True)
    conn.send(request("HEAD", "coffee://ducky/pot-0"))
    conn.expect(200, head=True)
    conn.close()
    # The lab's client: HTTP/1.1, the pot chosen by Use-Pot, no Content-Length.
    lab = Connection(ports.pot)
    lab.send(
        b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
        b"Use-Pot: tea\r\n\r\nstart"
    )
    lab.expect(418)
    lab.close()


def tea_300_alternates(ports: Ports) -> None:
    """RFC 7168: BREW tea without a variety (300 + Alternates), then brew a variety."""
    conn = Connection(ports.pot)
    conn.send(request("BREW", "tea://ducky/pot-1", version=TEA_VERSION, headers=TEA, body=b"start"))
    conn.expect(300)
    conn.close()  # the server closes after a 300
    # HTCPCP-TEA/1.0 is a 1.0 version: the connection persists only with keep-alive.
    conn = Connection(ports.pot)
    keep = {"Connection": "keep-alive"}
    milk = {**TEA, **keep, "Accept-Additions": "Whole-milk;q=0.8, Sugar"}
    darjeeling = "tea://ducky/pot-1/darjeeling"
    conn.send(request("BREW", darjeeling, version=TEA_VERSION, headers=milk, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "/pot-1/darjeeling", version=TEA_VERSION, headers=keep))
    conn.expect(200)
    conn.send(request("BREW", "/pot-1/darjeeling", version=TEA_VERSION, headers=TEA, body=b"stop"))
    conn.expect(200)
    conn.close()


def pipelined(ports: Ports) -> None:
    """Three requests in one segment; the server answers them in order."""
    conn = Connection(ports.pot)
    conn.send(
        request("GET", "coffee://ducky/pot-0")
        + request("PROPFIND", "%E5%92%96%E5%95%A1://ducky/pot-0")
        + request("GET", "koffie://ducky/pot-1", headers={"Connection": "close"})
    )
    conn.expect(200, 200, 200)
    conn.close()


def split_and_chunked(ports: Ports) -> None:
    """Awkward framing: five segments, a body in a later segment, a chunked body."""
    conn = Connection(ports.pot)
    whole = request(
        "BREW",
        "coffee://ducky/pot-0",
        headers={**COFFEE, "Accept-Additions": "Whisky"},
        body=b"start",
    )
    cuts = [0, 14, 40, 71, len(whole) - 3, len(whole)]
    conn.send(*(whole[a:b] for a, b in itertools.pairwise(cuts)))
    conn.expect(200)
    # Content-Length body in the next segment.
    conn.send(request("BREW", "coffee://ducky/pot-0", headers=COFFEE, body=b"stop")[:-4], b"stop")
    conn.expect(200)
    # Chunked body, the chunks in two segments.
    conn.send(
        request("BREW", "coffee://ducky/pot-0", headers={**COFFEE, "Transfer-Encoding": "chunked"})
        + b"3\r\nsta\r\n",
        b"2\r\nrt\r\n0\r\n\r\n",
    )
    conn.expect(200)
    conn.close()
    # The lab's client: no Content-Length, the body alone in a later segment.
    lab = Connection(ports.pot)
    lab.send(
        b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
        b"Use-Pot: ducky\r\n\r\n",
        b"stop",
    )
    lab.expect(200)
    lab.close()


def tls(ports: Ports) -> None:
    """The same kind of exchange over TLS: nothing readable on the wire."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
    context.keylog_filename = str(ports.tls_keylog)
    conn = Connection(ports.tls, tls=context)
    conn.send(request("BREW", "coffee://localhost/pot-0", headers=COFFEE, body=b"start"))
    conn.expect(200)
    conn.send(request("GET", "coffee://localhost/pot-0", headers={"Connection": "close"}))
    conn.expect(200)
    conn.close()


def web(ports: Ports) -> None:
    """A browser-like visit to the web front end, which talks HTCPCP to the pot."""
    assert ports.web is not None
    conn = Connection(ports.web)
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    page = conn.read_until_closed()
    if not page.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the web front end answered {page[:200]!r}")
    conn.close()


@dataclass
class Scenario:
    name: str
    run: Callable[[Ports], None]
    filter: Callable[[Ports], str]
    with_keys: bool = False  # also write <name>_with_keys.pcapng with the TLS secrets


def pot_filter(ports: Ports) -> str:
    return f"tcp port {ports.pot}"


SCENARIOS = [
    Scenario("brew_milk_when", brew_milk_when, pot_filter),
    Scenario("refusals_418_406", refusals_418_406, pot_filter),
    Scenario("tea_300_alternates", tea_300_alternates, pot_filter),
    Scenario("pipelined", pipelined, pot_filter),
    Scenario("split_and_chunked", split_and_chunked, pot_filter),
    Scenario("tls", tls, lambda ports: f"tcp port {ports.tls}", with_keys=True),
    Scenario("web", web, lambda ports: f"tcp port {ports.web} or tcp port {ports.pot}"),
]


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
