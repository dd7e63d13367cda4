"""
Tests of the twistd plugin and the .tac example, run as real processes.

These start C{twistd} on free loopback ports, talk to it with plain sockets,
and always kill what they started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import NEED_DATA, ProtocolError, Response, ResponseParser
from htcpcp.tap import Options, reset_history

from .helpers import free_port, wait_for_port
from .test_integration import exchange, parse_responses

ROOT = Path(__file__).resolve().parent.parent
BREW = (
    b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: message/coffeepot\r\nContent-Length: %d\r\n%s\r\n%s"
)


class TwistdTests(SynchronousTestCase):
    def twistd(self, *arguments: str, cwd: Path | None = None) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from twisted.scripts.twistd import run; run()",
                "-n",
                "--pidfile=",
                *arguments,
            ],
            cwd=cwd or ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(self._kill, process)
        return process

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout:
            process.stdout.close()

    def pot_arguments(self, port: int, *more: str) -> tuple[str, ...]:
        """C{twistd} arguments for a pot server on C{port} with a data directory of its own."""
        data = Path(self.mktemp()).absolute()
        return (
            "htcpcp",
            "--pot",
            f"tcp:{port}:interface=127.0.0.1",
            "--data-dir",
            str(data),
            *more,
        )

    def brew(self, port: int, body: bytes, additions: bytes = b"") -> Response:
        [response] = parse_responses(exchange(port, BREW % (len(body), additions, body)))
        return response

    def test_kill_9_mid_brew_keeps_history_and_resumes(self) -> None:
        port = free_port()
        arguments = self.pot_arguments(port, "--brew-time", "30")
        first = self.twistd(*arguments)
        wait_for_port(port, first)
        finished = []
        for _ in range(3):
            self.assertEqual(self.brew(port, b"start").status, 200)
            finished.append(json.loads(self.brew(port, b"stop").body)["id"])
        running = json.loads(self.brew(port, b"start", b"Accept-Additions: Cream\r\n").body)
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        second = self.twistd(*arguments)
        wait_for_port(port, second)
        [log] = parse_responses(exchange(port, b"GET /log HTCPCP/1.1\r\n\r\n"))
        brews = {b["id"]: b for b in json.loads(log.body)["brews"]}
        self.assertEqual(set(brews), {*finished, running["id"]})
        self.assertTrue(all(brews[i]["outcome"] == "stopped" for i in finished))
        resumed = brews[running["id"]]
        self.assertEqual((resumed["outcome"], resumed["resumed"]), ("brewing", True))
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(resumed["started"]))
        self.assertEqual(started, running["started_at"])
        [status] = parse_responses(exchange(port, b"GET /pot-0 HTCPCP/1.1\r\n\r\n"))
        current = json.loads(status.body)
        self.assertEqual((current["id"], current["state"]), (running["id"], "brewing"))
        self.assertEqual(current["brew_end_at"], running["brew_end_at"])

    def test_kill_9_under_load_loses_no_acknowledged_brew(self) -> None:
        port = free_port()
        arguments = self.pot_arguments(port, "--brew-time", "3600")
        first = self.twistd(*arguments)
        wait_for_port(port, first)
        started: set[str] = set()
        stopped: set[str] = set()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        parser = ResponseParser()
        deadline = time.monotonic() + 1.5
        killed = False
        try:
            while True:
                for body, acknowledged in ((b"start", started), (b"stop", stopped)):
                    if time.monotonic() > deadline and not killed:
                        first.send_signal(signal.SIGKILL)
                        killed = True
                    sock.sendall(BREW % (len(body), b"", body))
                    while (event := parser.next_event()) is NEED_DATA:
                        chunk = sock.recv(65536)
                        parser.receive_data(chunk)
                        if not chunk:
                            raise ConnectionResetError
                    assert isinstance(event, Response)
                    self.assertEqual(event.status, 200)
                    acknowledged.add(json.loads(event.body)["id"])
        except (ConnectionError, ProtocolError, OSError):
            pass
        finally:
            sock.close()
        first.wait(10)
        self.assertTrue(killed)
        self.assertGreater(len(stopped), 10)

        second = self.twistd(*arguments)
        wait_for_port(port, second)
        history: dict[str, str] = {}
        page = 1
        while True:
            target = b"GET /log?per_page=200&page=%d HTCPCP/1.1\r\n\r\n" % page
            [response] = parse_responses(exchange(port, target))
            listing = json.loads(response.body)
            history.update({b["id"]: b["outcome"] for b in listing["brews"]})
            if page >= listing["pages"]:
                break
            page += 1
        self.assertEqual(started - set(history), set())
        self.assertEqual({i for i in stopped if history[i] != "stopped"}, set())

    def test_port_in_use_exits_with_clear_error(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            process = self.twistd(*self.pot_arguments(port))
            output, _ = process.communicate(timeout=30)
        self.assertEqual(process.returncode, 1)
        self.assertEqual(
            output.decode().strip(),
            f"htcpcp: cannot listen on port {port} of 127.0.0.1: Address already in use:"
            " another server is using it (stop it, or choose another port)",
        )

    def test_lab_mode_serves_pot_and_plain_web_on_dual_stack(self) -> None:
        pot, web = free_port(), free_port()
        data = Path(self.mktemp()).absolute()
        process = self.twistd(
            "htcpcp", "--lab", "--pot", f"tcp:{pot}", "--web", f"tcp:{web}", "--data-dir", str(data)
        )
        wait_for_port(web, process)
        for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family) as sock:
                sock.settimeout(10)
                sock.connect((address, web))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:100])
            self.assertIn(b"ducky", answer)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        self.assertIn(
            f"the pot server listens on every IPv4 and IPv6 address, port {pot}".encode(), output
        )
        self.assertIn(
            f"the web front end listens on every IPv4 and IPv6 address, port {web}".encode(), output
        )

    def test_bare_ssl_generates_certificate_with_san(self) -> None:
        data = Path(self.mktemp()).absolute()
        port = free_port()
        process = self.twistd(
            "htcpcp", "--pot", f"ssl:{port}:interface=127.0.0.1", "--data-dir", str(data)
        )
        wait_for_port(port, process)
        context = ssl.create_default_context(cafile=str(data / "server-certificate.pem"))
        received = exchange(
            port,
            b"GET /pot-1 HTCPCP/1.1\r\nConnection: close\r\n\r\n",
            wrap=context,
            server_name="localhost",
        )
        self.assertTrue(received.startswith(b"HTCPCP/1.1 200 OK"))
        self.assertEqual(oct((data / "server.pem").stat().st_mode & 0o777), "0o600")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        self.assertIn(b"SELF-SIGNED certificate was generated", output)

    def test_tac_example(self) -> None:
        port = free_port()
        data = Path(self.mktemp()).absolute()
        environment = {
            **os.environ,
            "HTCPCP_ENDPOINT": f"tcp:{port}:interface=127.0.0.1",
            "HTCPCP_DATA_DIR": str(data),
        }
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from twisted.scripts.twistd import run; run()",
                "-n",
                "--pidfile=",
                "-y",
                str(ROOT / "examples" / "pot.tac"),
            ],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(self._kill, process)
        wait_for_port(port, process)
        [response] = parse_responses(exchange(port, b"GET coffee://ducky/pot-0 HTCPCP/1.1\r\n\r\n"))
        self.assertEqual((response.status, response.body), (200, b"{}"))
        self.assertTrue((data / "history.sqlite3").exists())


class OptionsTests(SynchronousTestCase):
    def test_repeatable_pot_and_brew_time(self) -> None:
        options = Options()
        options.parseOptions(["--pot", "tcp:5030", "--pot", "ssl:5443", "--brew-time", "5"])
        self.assertEqual(options["pot"], ["tcp:5030", "ssl:5443"])
        self.assertEqual(options["config-object"].pots[0].brew_time, 5)
        self.assertEqual(options["config-object"].pots[1].brew_time, 180)

    def test_bad_values_are_usage_errors(self) -> None:
        from twisted.python.usage import UsageError

        for arguments in (
            ["--pot", "tcp:1", "--brew-time", "-1"],
            ["--pot", "tcp:1", "--brew-time", "soon"],
            ["--pot", "tcp:1", "--config", "/nonexistent.ini"],
        ):
            self.assertRaises(UsageError, Options().parseOptions, arguments)


class LabOptionsTests(SynchronousTestCase):
    def test_lab_is_the_lab_set_up(self) -> None:
        options = Options()
        options.parseOptions(["--lab"])
        self.assertEqual(options["pot"], ["tcp:5030"])
        self.assertEqual(options["web"], "tcp:5031")
        self.assertEqual(options["pot-at"], "tcp:host=127.0.0.1:port=5030")
        self.assertEqual(options["pot-connections"], "per-request")
        self.assertEqual(options["pot-dialect"], "lab")

    def test_each_lab_setting_can_be_changed(self) -> None:
        options = Options()
        options.parseOptions(["--lab", "--pot", "tcp:6000", "--pot-dialect", "rfc"])
        self.assertEqual(options["pot"], ["tcp:6000"])
        self.assertEqual(options["pot-dialect"], "rfc")
        self.assertEqual(options["pot-connections"], "per-request")

    def test_without_lab_the_web_pools_and_speaks_rfc(self) -> None:
        options = Options()
        options.parseOptions(["--pot", "tcp:5030", "--web", "ssl:5031"])
        self.assertEqual((options["pot-connections"], options["pot-dialect"]), ("pooled", "rfc"))

    def test_unknown_values_are_usage_errors(self) -> None:
        from twisted.python.usage import UsageError

        for arguments in (
            ["--lab", "--pot-dialect", "klingon"],
            ["--lab", "--pot-connections", "x"],
        ):
            self.assertRaises(UsageError, Options().parseOptions, arguments)


class ResetHistoryTests(SynchronousTestCase):
    def test_the_history_is_moved_aside_whole(self) -> None:
        data = Path(self.mktemp())
        data.mkdir()
        for suffix in ("", "-wal", "-shm"):
            (data / f"history.sqlite3{suffix}").write_text(suffix or "main")
        moved = reset_history(data, now=0.0)
        assert moved is not None
        self.assertEqual(moved, data / "old-history" / "history-19700101T000000Z.sqlite3")
        self.assertEqual(sorted(p.name for p in data.glob("history.sqlite3*")), [])
        self.assertEqual(Path(f"{moved}-wal").read_text(), "-wal")
        self.assertEqual(moved.read_text(), "main")
        self.assertIsNone(reset_history(data))

    def test_reset_history_starts_empty(self) -> None:
        data = Path(self.mktemp()).absolute()
        port = free_port()
        arguments = ("htcpcp", "--pot", f"tcp:{port}:interface=127.0.0.1", "--data-dir", str(data))
        runner = TwistdTests()
        first = runner.twistd(*arguments, "--brew-time", "600")
        try:
            wait_for_port(port, first)
            self.assertEqual(runner.brew(port, b"start").status, 200)
        finally:
            runner._kill(first)
        second = runner.twistd(*arguments, "--reset-history")
        try:
            wait_for_port(port, second)
            [log] = parse_responses(exchange(port, b"GET /log HTCPCP/1.1\r\n\r\n"))
            self.assertEqual(json.loads(log.body)["total"], 0)
            [pot] = parse_responses(exchange(port, b"GET /pot-0 HTCPCP/1.1\r\n\r\n"))
            self.assertEqual(pot.body, b"{}")
        finally:
            runner._kill(second)
        self.assertEqual(len(list((data / "old-history").glob("history-*.sqlite3"))), 1)
