"""
Tests for the C{htcpcp} command (L{htcpcp.cli}): in process against real
pot servers on loopback, plain and TLS, and as a child process.
"""

from __future__ import annotations

import io
import json
import os
import sys
from importlib.metadata import version as installed_version

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.trial.unittest import TestCase

from htcpcp.cli import EXIT, execute
from htcpcp.config import default_config
from tests.test_client import RunningPot, start_pot, start_stand_in


class Run:
    """The outcome of one in-process C{htcpcp} run."""

    def __init__(self, status: int, out: str, err: str) -> None:
        self.status = status
        self.out = out
        self.err = err

    def __repr__(self) -> str:
        return f"Run({self.status}, out={self.out!r}, err={self.err!r})"


async def htcpcp(*argv: str) -> Run:
    """Run C{htcpcp argv} in process, on the running reactor."""
    out, err = io.StringIO(), io.StringIO()
    status = await execute(argv, reactor, out, err)
    return Run(status, out.getvalue(), err.getvalue())


class CommandTests(TestCase):
    """Every subcommand against the pot server, with the messages people see."""

    async def setUp(self) -> None:
        self.pot: RunningPot = await start_pot(
            self, config=default_config().with_brew_time(30.0), history=True
        )

    def assertFailedWith(self, run: Run, status: int, message: str) -> None:
        """C{run} exited with C{status} and one line on stderr: C{htcpcp: message}."""
        self.assertEqual((run.status, run.out, run.err), (status, "", f"htcpcp: {message}\n"))

    async def test_brew_get_propfind_stop(self) -> None:
        """200: exit 0 and a sentence about the pot on stdout."""
        url = self.pot.url()
        brewed = await htcpcp("brew", url, "--add", "Cream,Whisky")
        self.assertEqual(brewed.status, 0, brewed)
        self.assertTrue(
            brewed.out.startswith("pot ducky: coffee with Cream, Whisky, brewing: ready in"),
            brewed,
        )
        got = await htcpcp("get", url)
        self.assertTrue(got.out.startswith("pot ducky: coffee with Cream, Whisky"), got)
        found = await htcpcp("propfind", url)
        self.assertEqual(found.status, 0)
        self.assertIn("pot ducky (coffee): brewing\n  additions: Cream, Half-and-half", found.out)
        stopped = await htcpcp("stop", url)
        self.assertEqual(stopped.status, 0)
        self.assertIn(", stopped at ", stopped.out)
        taken = await htcpcp("stop", url)
        self.assertEqual(taken.status, 0, taken)
        again = await htcpcp("stop", url)
        self.assertFailedWith(again, 1, "pot ducky is empty: nothing to stop")

    async def test_busy(self) -> None:
        """409 on a second brew: exit 1, busy, and for how long."""
        url = self.pot.url()
        await htcpcp("brew", url)
        busy = await htcpcp("brew", url)
        self.assertEqual((busy.status, busy.out), (1, ""))
        self.assertRegex(busy.err, r"\Ahtcpcp: the pot is busy: try again in (29|30) s\n\Z")

    async def test_when(self) -> None:
        """WHEN with no milk pouring is 409; once milk pours it stops it."""
        url = (await start_pot(self, config=default_config().with_brew_time(0.2))).url()
        nothing = await htcpcp("when", url)
        self.assertFailedWith(
            nothing, 1, "no milk is pouring from pot ducky: nothing to say when to"
        )
        await htcpcp("brew", url, "--add", "Cream")
        await deferLater(reactor, 0.4)
        said = await htcpcp("when", url)
        self.assertEqual(said.status, 0, said)
        self.assertTrue(said.out.startswith("said when: pot ducky: coffee with Cream"), said)

    async def test_teapot(self) -> None:
        """418: coffee from the teapot is refused, in words."""
        refused = await htcpcp("brew", self.pot.url("/pot-1"))
        self.assertFailedWith(
            refused,
            1,
            "that pot is a teapot: it brews tea, not coffee; ask for a variety with"
            " --variety (htcpcp propfind URL lists them)",
        )

    async def test_choose_variety(self) -> None:
        """300: tea without a variety lists the varieties."""
        choose = await htcpcp("brew", self.pot.url("/pot-1", scheme="tea"), "--tea")
        self.assertFailedWith(
            choose,
            1,
            "choose a tea variety: darjeeling, earl-grey, english-breakfast, green, peppermint"
            " (e.g. htcpcp brew URL --variety darjeeling)",
        )

    async def test_tea_url_asks_for_tea(self) -> None:
        """A tea:// URL sends message/teapot without --tea: the teapot offers its varieties."""
        choose = await htcpcp("brew", self.pot.url("/pot-1", scheme="tea"))
        self.assertEqual(choose.status, 1, choose)
        self.assertIn("choose a tea variety: darjeeling", choose.err)

    async def test_variety(self) -> None:
        """--variety brews tea."""
        tea = await htcpcp(
            "brew", self.pot.url("/pot-1", scheme="tea"), "--variety", "earl-grey", "--add", "Lemon"
        )
        self.assertEqual(tea.status, 0, tea)
        self.assertTrue(tea.out.startswith("pot tea: tea (earl-grey) with Lemon, brewing"), tea)

    async def test_not_acceptable(self) -> None:
        """406: the additions the pot does have."""
        missing = await htcpcp("brew", self.pot.url(), "--add", "Tea")
        self.assertEqual(missing.status, 1)
        self.assertTrue(
            missing.err.startswith("htcpcp: the pot does not have Tea; it has: Cream, "), missing
        )
        self.assertIn("Whisky", missing.err)
        self.assertEqual(missing.err.count("\n"), 1)

    async def test_not_found(self) -> None:
        """Other statuses: the code, the reason and the server's words."""
        lost = await htcpcp("get", self.pot.url("/pot-9"))
        self.assertFailedWith(lost, 1, "404 Not Found: there is no pot 'pot-9' here")

    async def test_log(self) -> None:
        """log lists the history, newest first."""
        await htcpcp("brew", self.pot.url(), "--add", "Sugar")
        await htcpcp("brew", self.pot.url("/pot-1"), "--variety", "green")
        listing = await htcpcp("log", f"coffee://localhost:{self.pot.port}", "--per-page", "1")
        self.assertEqual(listing.status, 0, listing)
        lines = listing.out.splitlines()
        self.assertEqual(lines[0], "page 1 of 2 (2 brews in all)")
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[1].endswith("  tea: tea (green): brewing"), lines)
        ducky = await htcpcp("log", self.pot.url(), "--pot", "ducky")
        self.assertTrue(ducky.out.splitlines()[1].endswith("ducky: coffee with Sugar: brewing"))

    async def test_json(self) -> None:
        """--json prints status, headers and the parsed body, whatever the status."""
        ok = await htcpcp("propfind", self.pot.url(), "--json")
        document = json.loads(ok.out)
        self.assertEqual((ok.status, document["status"]), (0, 200))
        self.assertEqual(document["body"]["pot"]["name"], "ducky")
        refused = await htcpcp("brew", self.pot.url("/pot-1"), "--json")
        document = json.loads(refused.out)
        self.assertEqual((refused.status, document["status"]), (1, 418))
        self.assertEqual(document["body"], "I'm a teapot: tea brews tea, not coffee\n")

    async def test_verbose(self) -> None:
        """-v shows the raw request and response, curl-style, on stderr."""
        run = await htcpcp("brew", self.pot.url(), "--add", "Rum", "-v")
        self.assertEqual(run.status, 0)
        lines = run.err.splitlines()
        self.assertEqual(lines[0], f"* tcp:localhost:{self.pot.port}")
        self.assertEqual(lines[1], f"> BREW {self.pot.url()} HTCPCP/1.1")
        self.assertIn("> Accept-Additions: Rum", lines)
        self.assertIn("start", lines)
        self.assertIn("< HTCPCP/1.1 200 OK", lines)
        self.assertIn("< Safe: no", lines)
        self.assertTrue(run.out.startswith("pot ducky: coffee with Rum"))


class FailureTests(TestCase):
    """Unreachable, silent and TLS-refusing pots: one line each, their own statuses."""

    async def test_refused(self) -> None:
        listening = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(Factory())
        port = listening.getHost().port
        await listening.stopListening()
        run = await htcpcp("get", f"coffee://127.0.0.1:{port}/pot-0")
        self.assertEqual(
            (run.status, run.err),
            (
                EXIT["unreachable"],
                f"htcpcp: 127.0.0.1:{port} refused the connection (is the pot server running?)\n",
            ),
        )

    async def test_timeout(self) -> None:
        """A pot that never answers: exit 4 after --timeout."""
        _, port = await start_stand_in(self, lambda request, count: b"")
        started = reactor.seconds()
        run = await htcpcp("when", f"coffee://127.0.0.1:{port}/pot-0", "--timeout", "0.3")
        self.assertGreaterEqual(reactor.seconds() - started, 0.3)
        self.assertEqual(
            (run.status, run.err),
            (EXIT["timeout"], f"htcpcp: no answer from 127.0.0.1:{port} within 0.3 s\n"),
        )
        as_json = await htcpcp("get", f"coffee://127.0.0.1:{port}/", "--timeout", "0.1", "--json")
        self.assertEqual(
            json.loads(as_json.out),
            {"error": "timeout", "message": f"no answer from 127.0.0.1:{port} within 0.1 s"},
        )

    async def test_plain_to_tls_port(self) -> None:
        """Plain HTCPCP to a TLS port: a hint to add --tls."""
        pot = await start_pot(self, tls_names=["localhost"])
        run = await htcpcp("get", pot.url())
        self.assertEqual(run.status, EXIT["unreachable"])
        self.assertEqual(
            run.err,
            f"htcpcp: localhost:{pot.port} closed the connection without answering"
            " (if that port speaks TLS, add --tls)\n",
        )

    async def test_usage(self) -> None:
        """Bad arguments exit 2 with argparse's message; --help exits 0 with examples."""
        run = await htcpcp("brew")
        self.assertEqual(run.status, EXIT["usage"])
        self.assertIn("the following arguments are required: URL", run.err)
        self.assertEqual((await htcpcp("get", "coffee://x/", "--timeout", "0")).status, 2)
        helped = await htcpcp("--help")
        self.assertEqual(helped.status, 0)
        self.assertIn("htcpcp brew coffee://localhost:5030/pot-0 --add Cream,Whisky", helped.out)
        brew_help = await htcpcp("brew", "--help")
        self.assertIn("--variety earl-grey --add Lemon", brew_help.out)

    async def test_version(self) -> None:
        """C{--version} prints the package's version as installed (its metadata) and exits 0."""
        run = await htcpcp("--version")
        self.assertEqual((run.status, run.out), (0, f"htcpcp {installed_version('htcpcp')}\n"))

    async def test_unknown_host(self) -> None:
        run = await htcpcp("get", "coffee://no-such-pot.invalid/pot-0")
        self.assertEqual(
            (run.status, run.err),
            (EXIT["unreachable"], "htcpcp: cannot find the host 'no-such-pot.invalid'\n"),
        )

    async def test_bad_url(self) -> None:
        run = await htcpcp("get", "http://localhost/pot-0")
        self.assertEqual(
            (run.status, run.err),
            (
                EXIT["usage"],
                "htcpcp: 'http://localhost/pot-0' is not a coffee URL:"
                " 'http' is not a coffee URL scheme\n",
            ),
        )

    async def test_unreadable_cafile(self) -> None:
        run = await htcpcp("get", "coffee://localhost/pot-0", "--cafile", "/nonexistent.pem")
        self.assertEqual(
            (run.status, run.err),
            (
                EXIT["usage"],
                "htcpcp: cannot read the CA file /nonexistent.pem: No such file or directory\n",
            ),
        )


class TLSCommandTests(TestCase):
    """The commands over TLS, verified with --cafile."""

    async def test_every_command(self) -> None:
        """Every subcommand works over TLS with --cafile of the generated certificate."""
        pot = await start_pot(
            self, tls_names=["localhost"], config=default_config().with_brew_time(0.2), history=True
        )
        trust = ("--tls", "--cafile", str(pot.certificate))
        url = pot.url()
        commands = [
            ("brew", url, "--add", "Cream"),
            ("get", url),
            ("propfind", url),
            ("stop", url),
            ("log", url),
            ("brew", pot.url("/pot-1", scheme="tea"), "--variety", "green"),
        ]
        for command in commands:
            run = await htcpcp(*command, *trust)
            self.assertEqual((run.status, run.err), (0, ""), command)
        await htcpcp("stop", pot.url("/pot-1"), "--tea", *trust)
        await htcpcp("brew", url, "--add", "Cream", *trust)
        await deferLater(reactor, 0.4)
        said = await htcpcp("when", pot.url(host="127.0.0.1"), "--cafile", str(pot.certificate))
        self.assertEqual((said.status, said.err), (0, ""))

    async def test_untrusted(self) -> None:
        """--tls without trusting the certificate: exit 5 and one line."""
        pot = await start_pot(self, tls_names=["localhost"])
        run = await htcpcp("brew", pot.url(), "--tls")
        self.assertEqual(
            (run.status, run.err),
            (
                EXIT["tls"],
                f"htcpcp: TLS: the certificate of localhost:{pot.port} is not trusted"
                " (give the server's certificate or its CA as the CA file, --cafile)\n",
            ),
        )
        self.assertIsNone(pot.server.pots[0].current)

    async def test_other_host(self) -> None:
        """A trusted certificate made for another host name: exit 5."""
        pot = await start_pot(self, tls_names=["elsewhere.example"])
        run = await htcpcp("get", pot.url(), "--cafile", str(pot.certificate))
        self.assertEqual(
            (run.status, run.err),
            (
                EXIT["tls"],
                f"htcpcp: TLS: the certificate of localhost:{pot.port}"
                " is not valid for the host name 'localhost'\n",
            ),
        )

    async def test_wrong_cafile(self) -> None:
        """A CA file that does not hold the server's certificate: exit 5."""
        pot = await start_pot(self, tls_names=["localhost"])
        other = await start_pot(self, tls_names=["localhost"])
        run = await htcpcp("get", pot.url(), "--cafile", str(other.certificate))
        self.assertEqual(run.status, EXIT["tls"])
        self.assertIn("is not trusted", run.err)


def child(*argv: str) -> Deferred[tuple[bytes, bytes, int]]:
    """Run C{python -m htcpcp.cli argv}: its output, errors and exit status."""
    return getProcessOutputAndValue(sys.executable, ["-m", "htcpcp.cli", *argv], env=os.environ)


class ProcessTests(TestCase):
    """The command as a child process: exit statuses and no tracebacks."""

    async def test_child_process(self) -> None:
        """C{python -m htcpcp.cli}: statuses and messages as in process."""
        pot = await start_pot(self)
        out, err, status = await child("brew", pot.url("/pot-1"))
        self.assertEqual(
            (status, out, err),
            (
                1,
                b"",
                b"htcpcp: that pot is a teapot: it brews tea, not coffee; ask for a variety"
                b" with --variety (htcpcp propfind URL lists them)\n",
            ),
        )
        out, err, status = await child("get", pot.url(), "--json")
        self.assertEqual((status, json.loads(out)["body"]), (0, {}))

    async def test_child_tls_failures(self) -> None:
        """
        TLS refusals in a real process (untrusted; no subjectAltName, which
        Twisted logs as an error): one line, no traceback, no log noise.
        """
        pot = await start_pot(self, tls_names=["localhost"])
        san_less = await start_pot(self, tls_names=["localhost"], subject_alt_names=False)
        for url, options in (
            (pot.url(), ["--tls"]),
            (san_less.url(), ["--cafile", str(san_less.certificate)]),
        ):
            _, err, status = await child("get", url, *options)
            self.assertEqual(status, EXIT["tls"])
            self.assertEqual(err.count(b"\n"), 1, err)
            self.assertTrue(err.startswith(b"htcpcp: TLS: the certificate of localhost:"), err)
        self.assertIn(b"has no subjectAltName", err)
