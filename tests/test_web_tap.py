"""
The twistd plugin's web options: C{--web}, C{--pot-at} and its default,
and the services they make, started in process over HTTPS.
"""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
from pathlib import Path

from twisted.internet.threads import deferToThread
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.tap import Options, makeService
from htcpcp.tls import CERTIFICATE_FILE
from htcpcp.web.http.endpoints import public_name, redactor
from htcpcp.web.web_service import pot_client_endpoint

from .test_browser import wait_for_port
from .test_web_embed import free_port
from .test_web_http import fetch


class OptionsTests(SynchronousTestCase):
    def parse(self, *arguments: str) -> Options:
        options = Options()
        options.parseOptions(list(arguments))
        return options

    def test_pot_at_defaults_to_the_first_pot_of_this_process(self) -> None:
        options = self.parse("--pot", "tcp:5030", "--pot", "tcp:6030", "--web", "ssl:5031")
        self.assertEqual(options["pot-at"], "tcp:host=127.0.0.1:port=5030")

    def test_pot_at_given(self) -> None:
        options = self.parse("--web", "tcp:8080", "--pot-at", "tcp:pots.example:5030")
        self.assertEqual((options["pot"], options["pot-at"]), ([], "tcp:pots.example:5030"))

    def test_pot_alone_still_works(self) -> None:
        options = self.parse("--pot", "tcp:5030")
        self.assertEqual((options["web"], options["pot-at"]), (None, None))

    def test_usage_errors(self) -> None:
        for arguments in (
            [],
            ["--web", "ssl:5031"],
            ["--pot", "tcp:5030", "--pot-at", "tcp:x:1"],
            ["--pot", "ssl:5030:privateKey=k.pem", "--web", "ssl:5031"],
            ["--pot", "tcp:0", "--web", "ssl:5031"],
        ):
            self.assertRaises(UsageError, Options().parseOptions, arguments)

    def test_client_endpoints_for_server_endpoints(self) -> None:
        data = Path("/srv/htcpcp")
        cases = {
            "tcp:5030": "tcp:host=127.0.0.1:port=5030",
            "tcp:port=5030:interface=0.0.0.0": "tcp:host=127.0.0.1:port=5030",
            "tcp:5030:interface=10.1.2.3": "tcp:host=10.1.2.3:port=5030",
            "tcp6:5030": "tcp:host=\\:\\:1:port=5030",
            "tcp6:5030:interface=\\:\\:1": "tcp:host=\\:\\:1:port=5030",
            "ssl:5443": "tls:host=127.0.0.1:port=5443:trustRoots=/srv/htcpcp",
            "unix:/run/pots.sock": "unix:path=/run/pots.sock",
        }
        for server, client in cases.items():
            self.assertEqual(pot_client_endpoint(server, data), client, server)
        for unknown in ("tls:/certs:port=5030", "unix:", "ssl:0"):
            self.assertRaises(ValueError, pot_client_endpoint, unknown, data)


class PublicNameTests(SynchronousTestCase):
    def test_endpoints_are_named_without_their_options(self) -> None:
        cases = {
            "tcp:127.0.0.1:5030": "127.0.0.1:5030",
            "tls:host=pots.example:port=5030:trustRoots=/etc/ca": "pots.example:5030",
            "tcp:host=\\:\\:1:port=5030": "[::1]:5030",
            "unix:path=/run/pots.sock": "the pot server",
        }
        for description, public in cases.items():
            self.assertEqual(public_name(description), public, description)
        secret = "tls:pots.example:5030:trustRoots=/etc/secret"
        self.assertEqual(
            redactor(secret)(f"{secret} refused the connection"),
            "pots.example:5030 refused the connection",
        )


class ServiceTests(TestCase):
    async def test_pot_and_web_over_tls_in_one_process(self) -> None:
        data = Path(self.mktemp()).absolute()
        pot, web = free_port(), free_port()
        options = Options()
        options.parseOptions(
            [
                "--pot", f"ssl:{pot}:interface=127.0.0.1",
                "--web", f"ssl:{web}:interface=127.0.0.1",
                "--data-dir", str(data),
            ]
        )  # fmt: skip
        self.assertTrue(options["pot-at"].startswith("tls:host=127.0.0.1:"))
        service = makeService(options)
        self.assertEqual([s.name for s in service], ["pots", "web"])
        service.startService()
        self.addCleanup(service.stopService)
        context = ssl.create_default_context(cafile=str(data / CERTIFICATE_FILE))
        home = await deferToThread(fetch, web, "/", context=context)
        self.assertEqual(home.status, 200)
        self.assertIn(b">ducky</h2>", home.body)
        self.assertIn(b">tea</h2>", home.body)

    async def test_web_alone_against_a_remote_pot_server(self) -> None:
        pot_port = free_port()
        pots = Options()
        pots.parseOptions(
            ["--pot", f"tcp:{pot_port}:interface=127.0.0.1", "--data-dir", self.mktemp()]
        )
        web_port = free_port()
        web = Options()
        web.parseOptions(
            [
                "--web", f"tcp:{web_port}:interface=127.0.0.1",
                "--pot-at", f"tcp:127.0.0.1:{pot_port}",
                "--data-dir", self.mktemp(),
            ]
        )  # fmt: skip
        pot_service, web_service = makeService(pots), makeService(web)
        self.assertEqual([s.name for s in web_service], ["web"])
        for service in (pot_service, web_service):
            service.startService()
            self.addCleanup(service.stopService)
        home = await deferToThread(fetch, web_port, "/")
        self.assertEqual(home.status, 200)
        self.assertIn(b">ducky</h2>", home.body)


class TwistdTests(SynchronousTestCase):
    def test_the_main_command_serves_pots_and_the_web_over_https(self) -> None:
        data = Path(self.mktemp()).absolute()
        pot, web = free_port(), free_port()
        process = subprocess.Popen(
            [
                sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "htcpcp",
                "--pot", f"tcp:{pot}:interface=127.0.0.1",
                "--web", f"ssl:{web}:interface=127.0.0.1",
                "--data-dir", str(data),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.addCleanup(process.wait, 10)
        self.addCleanup(process.kill)
        wait_for_port(web, process)
        context = ssl.create_default_context(cafile=str(data / CERTIFICATE_FILE))
        home = fetch(web, "/", context=context)
        self.assertEqual(home.status, 200)
        self.assertIn(b">ducky</h2>", home.body)
        self.assertIn(b"GET /pots HTCPCP/1.1", fetch(web, "/inspector", context=context).body)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        self.assertEqual(output.count(b"SELF-SIGNED certificate was generated"), 1)
        self.assertIn(b"Site (TLS) starting on", output)
