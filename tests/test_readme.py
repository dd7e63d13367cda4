"""
The README's examples, run in order on a fresh start, as a reader would.

Every C{sh} and C{console} block of README.md is read in order.  A command
is a line of an C{sh} block, or a C{$ } line of a C{console} block; the
lines after a C{$ } line, up to the next, are its output as the README
shows it.  Each command runs in C{bash} in a fresh, empty directory (no
C{.htcpcp} data directory, no history); the README's C{twistd -n} commands
start a real server there (stopping the one before, as a reader stops it
with Ctrl-C before starting the next), and every other command must exit 0
and print what the README shows: each shown line, in order, matches a line
of the real output (its standard output, then its standard error), where
a number stands for any number and C{…} for anything.

What the test changes, and why:

- the documented ports 5030, 5031 and 5443 become free loopback ports
  (in the commands and in the output shown), so the test never collides
  with a server already running or with another test;
- the servers get C{--brew-time 1} and C{sleep 30} becomes C{sleep 1.5}:
  the milk pours from the end of the brew until WHEN, for at most 10 s,
  so saying when 1.5 s after a 1-second brew is what saying when 30 s
  after a 30-second brew is, in a 60-second test;
- the install steps (C{python3 -m venv .venv && ... pip install ...}) are
  not run, nor a test suite run after them; a server started after them
  is: the test runs in the virtual environment the suite runs in, which
  the fresh directory reaches as C{.venv} (a symbolic link to
  C{sys.prefix});
- C{--lab} alone listens on 5030 and 5031 themselves, so the test adds
  C{--pot tcp:PORT --web tcp:PORT} with free ports (C{--lab} keeps its
  per-request connections and the lab's dialect with them), and checks
  that its web answers plain HTTP;
- the repository's C{sample_capture} directory is linked into the fresh
  directory, as it is in a checkout.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from twisted.trial.unittest import SynchronousTestCase

from .helpers import require_program

REPOSITORY: Final = Path(__file__).resolve().parent.parent
README: Final = REPOSITORY / "README.md"
DOCUMENTED_PORTS: Final = ("5030", "5031", "5443")
BREW_TIME: Final = "1"
SLEEP: Final = "1.5"
COMMAND_TIMEOUT: Final = 30.0
START_TIMEOUT: Final = 20.0
LISTENS: Final = r"listens on every IPv4 (?:and IPv6 )?address, port {}\n"
NUMBER: Final = r"\d+(?:\.\d+)?"
_BLOCK: Final = re.compile(r"^```(sh|console)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    """One command of the README and the output it shows (C{console} blocks only)."""

    command: str
    shown: tuple[str, ...]

    @property
    def installs(self) -> bool:
        """Whether the command only installs (and perhaps runs the test suite)."""
        return self.command.startswith("python3 -m venv ") and not self.serves

    @property
    def serves(self) -> bool:
        return "twistd -n htcpcp" in self.command

    @property
    def after_install(self) -> str:
        """The command without the install steps it starts with (C{python3 -m venv && pip})."""
        steps = self.command.split(" && ")
        while steps and steps[0].startswith(("python3 -m venv ", ".venv/bin/pip install ")):
            steps.pop(0)
        return " && ".join(steps)


def examples(text: str) -> list[Example]:
    """The commands of C{text}'s C{sh} and C{console} blocks, in order."""
    found: list[Example] = []
    for kind, body in _BLOCK.findall(text):
        lines = body.splitlines()
        if kind == "sh":
            found += [Example(line, ()) for line in lines if line and not line.startswith("#")]
            continue
        command: str | None = None
        shown: list[str] = []
        for line in [*lines, "$ "]:
            if line.startswith("$ "):
                if command is not None:
                    found.append(Example(command, tuple(shown)))
                command, shown = line[2:], []
            elif line:
                shown.append(line)
    return found


def pattern(line: str) -> re.Pattern[str]:
    """A shown output line as a pattern: a number stands for any number, C{…} for anything."""
    parts = [re.escape(piece) for piece in re.split(r"\d+|…", line)]
    gaps = re.findall(r"\d+|…", line)
    pieces = [parts[0]]
    for gap, part in zip(gaps, parts[1:], strict=True):
        pieces.append((NUMBER if gap != "…" else ".*") + part)
    return re.compile("".join(pieces))


def unmatched(shown: tuple[str, ...], output: str) -> str | None:
    """The first shown line not found, in order, in C{output}; C{None} if all are."""
    lines = [line.rstrip() for line in output.splitlines()]
    position = 0
    for wanted in shown:
        expected = pattern(wanted.rstrip())
        while position < len(lines) and not expected.fullmatch(lines[position]):
            position += 1
        if position == len(lines):
            return wanted
        position += 1
    return None


def free_dual_stack_port() -> int:
    """A port free on every IPv4 and IPv6 address (the servers listen dual-stack where they can)."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", 0))
            return int(sock.getsockname()[1])
    except OSError:
        with socket.socket() as sock:
            sock.bind(("", 0))
            return int(sock.getsockname()[1])


class ParsingTests(SynchronousTestCase):
    """How the README is read (so the run below reads it as meant)."""

    def test_console_output_and_sh_lines(self) -> None:
        text = (
            "```sh\npython3 -m venv .venv\n# a comment\n```\n"
            "```console\n$ one\nout 1\n\n$ two\n```\n```ini\n[x]\n```\n"
        )
        self.assertEqual(
            examples(text),
            [Example("python3 -m venv .venv", ()), Example("one", ("out 1",)), Example("two", ())],
        )

    def test_install_steps_before_a_server_are_left_out(self) -> None:
        both = Example(
            "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/twistd -n htcpcp",
            (),
        )
        self.assertEqual((both.installs, both.serves), (False, True))
        self.assertEqual(both.after_install, ".venv/bin/twistd -n htcpcp")
        suite = Example(
            "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'"
            " && .venv/bin/python -m twisted.trial tests",
            (),
        )
        self.assertEqual((suite.installs, suite.serves), (True, False))

    def test_shown_lines_match_in_order(self) -> None:
        output = "pot ducky: ready in 1.0 s\nbean: Kona\nlast\n"
        self.assertIsNone(unmatched(("pot ducky: ready in 30 s", "bean: …"), output))
        self.assertEqual(unmatched(("bean: …", "pot ducky: …"), output), "pot ducky: …")
        self.assertEqual(unmatched(("pot tea: ready in 30 s",), output), "pot tea: ready in 30 s")
        self.assertEqual(unmatched(("ready in 30 s",), output), "ready in 30 s")


class ReadmeTests(SynchronousTestCase):
    """The README's examples, run in order against real servers."""

    def setUp(self) -> None:
        require_program("curl", "curl")
        self.bin = Path(sys.prefix) / "bin"
        for program in ("htcpcp", "twistd"):
            self.assertTrue(
                (self.bin / program).exists(), f"{program} is not installed in {sys.prefix}"
            )
        self.home = Path(self.mktemp()).absolute()
        self.home.mkdir(parents=True)
        (self.home / ".venv").symlink_to(sys.prefix, target_is_directory=True)
        (self.home / "sample_capture").symlink_to(REPOSITORY / "sample_capture")
        self.ports = {port: str(free_dual_stack_port()) for port in DOCUMENTED_PORTS}
        self.server: subprocess.Popen[bytes] | None = None
        self.addCleanup(self.stop_server)

    def substitute(self, text: str) -> str:
        for documented, free in self.ports.items():
            text = text.replace(documented, free)
        return text.replace("sleep 30", f"sleep {SLEEP}")

    def stop_server(self) -> None:
        """Stop the running server, as Ctrl-C would."""
        server, self.server = self.server, None
        if server is None or server.poll() is not None:
            return
        server.send_signal(signal.SIGINT)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)

    def start_server(self, command: str) -> None:
        """Start C{command} (after stopping the server before it) and wait until it listens."""
        self.stop_server()
        log = self.home / f"server-{len(list(self.home.glob('server-*.log')))}.log"
        with log.open("w") as output:
            self.server = subprocess.Popen(
                ["bash", "-c", f"exec {command} --brew-time {BREW_TIME}"],
                cwd=self.home,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        listening = self.listening_ports(command)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            said = log.read_text()
            if self.server.poll() is not None:
                self.fail(f"{command!r} exited with {self.server.returncode}:\n{said}")
            if all(re.search(LISTENS.format(port), said) for port in listening):
                return
            time.sleep(0.1)
        self.fail(f"{command!r} did not say it listens on {listening}:\n{log.read_text()}")

    def listening_ports(self, command: str) -> list[str]:
        ports = re.findall(r"--(?:pot|web) (?:tcp|ssl):(\d+)", command)
        self.assertTrue(ports, f"no port in {command!r}")
        return ports

    def run_example(self, example: Example) -> None:
        command = self.substitute(example.command)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        said = done.stdout + "\n" + done.stderr
        self.assertEqual(done.returncode, 0, f"{command!r} exited {done.returncode}:\n{said}")
        missing = unmatched(tuple(self.substitute(line) for line in example.shown), said)
        self.assertIsNone(missing, f"{command!r} did not print {missing!r}:\n{said}")

    def test_the_examples_in_order(self) -> None:
        found = examples(README.read_text(encoding="utf-8"))
        commands = [example.command for example in found]
        self.assertIn(".venv/bin/twistd -n htcpcp --lab", commands)
        for method in ("BREW", "PROPFIND", "WHEN"):
            self.assertTrue(
                any(
                    f"curl -i -X {method} " in c and "http://localhost:5030/pot-0" in c
                    for c in commands
                ),
                f"no curl {method} example",
            )
        self.assertIn("curl -i http://localhost:5030/pot-0", commands)
        ran = 0
        for example in found:
            if example.installs:
                continue
            if example.serves:
                command = self.substitute(example.after_install)
                lab = command.endswith("--lab")
                if lab:
                    command += f" --pot tcp:{self.ports['5030']} --web tcp:{self.ports['5031']}"
                self.start_server(command)
                if lab:
                    self.assert_plain_web(self.ports["5031"])
            else:
                self.run_example(example)
            ran += 1
        self.assertGreaterEqual(ran, 13)
        self.assertTrue((self.home / "web.html").read_text().startswith("<!DOCTYPE html>"))
        self.assertTrue((self.home / ".htcpcp" / "history.sqlite3").is_file())

    def assert_plain_web(self, port: str) -> None:
        """The lab's web front end answers plain HTTP on C{localhost}, listing the pots."""
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=COMMAND_TIMEOUT) as page:
            self.assertEqual(page.status, 200)
            self.assertIn(b"ducky", page.read())
