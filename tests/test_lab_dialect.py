"""
Tests of the client options the lab needs: the lab's dialect (requests
written byte for byte as the lab's web app writes them), a connection per
request, and the TLS key log of the client.
"""

from __future__ import annotations

from pathlib import Path

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.client import InvalidRequest, PotClient
from htcpcp.labdialect import lab_request, pot_name_of
from htcpcp.listening import server_endpoint
from htcpcp.service import buildPotServer
from htcpcp.tls import CERTIFICATE_FILE, KeyLog, with_certificate
from htcpcp.urls import TargetError

from .helpers import fast_config

# The lab web app's requests, as captured from the original lab (captures/lab/).
LAB_GET = b"GET coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n\r\n"
LAB_BREW_TEA = (
    b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
    b"Use-Pot: tea\r\n\r\nstart"
)
LAB_BREW_406 = (
    b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
    b"Accept-Additions: tea\r\nUse-Pot: ducky\r\n\r\nstart"
)


class LabRequestTests(SynchronousTestCase):
    def test_the_lab_captures_byte_for_byte(self) -> None:
        self.assertEqual(lab_request("GET", "coffee://ducky"), LAB_GET)
        brew_type = [("Content-Type", "message/coffeepot")]
        self.assertEqual(
            lab_request("BREW", "/tea", brew_type, b"start"),
            LAB_BREW_TEA,
        )
        self.assertEqual(
            lab_request("BREW", "/ducky", [*brew_type, ("Accept-Additions", "tea")], b"start"),
            LAB_BREW_406,
        )

    def test_additions_lower_case_separated_by_semicolons(self) -> None:
        request = lab_request(
            "BREW", "/pot-0", [("Accept-Additions", "Cream, Whisky")], b"start", "ducky"
        )
        self.assertEqual(
            request,
            b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
            b"Accept-Additions: cream; whisky\r\nUse-Pot: pot-0\r\n\r\nstart",
        )

    def test_no_host_and_no_content_length(self) -> None:
        request = lab_request(
            "BREW",
            "/pot-0",
            [("Host", "x"), ("Content-Length", "5"), ("Content-Type", "message/coffeepot")],
            b"start",
        )
        self.assertNotIn(b"Host:", request)
        self.assertNotIn(b"Content-Length", request)
        self.assertTrue(request.endswith(b"\r\n\r\nstart"))

    def test_known_names_replace_numbers(self) -> None:
        request = lab_request("WHEN", "/pot-1", pot_names={"pot-1": "tea"})
        self.assertIn(b"\r\nUse-Pot: tea\r\n", request)

    def test_tea_keeps_its_type_and_a_variety_its_path(self) -> None:
        request = lab_request(
            "BREW", "/pot-1/earl-grey", [("Content-Type", "message/teapot")], b"start"
        )
        self.assertTrue(request.startswith(b"BREW coffee://ducky/pot-1/earl-grey HTTP/1.1\r\n"))
        self.assertIn(b"\r\nContent-Type: message/teapot\r\n", request)
        self.assertNotIn(b"Use-Pot", request)

    def test_the_log_and_a_host_and_port_are_kept(self) -> None:
        self.assertTrue(
            lab_request("GET", "coffee://[::1]:5030/log?page=2").startswith(
                b"GET coffee://[::1]:5030/log?page=2 HTTP/1.1\r\n"
            )
        )

    def test_not_a_coffee_url(self) -> None:
        self.assertRaises(TargetError, lab_request, "GET", "http://example.com/")

    def test_pot_names_from_propfind(self) -> None:
        self.assertEqual(pot_name_of(b'{"pot": {"index": 1, "name": "tea"}}'), (1, "tea"))
        for body in (b"{}", b"nonsense", b'{"pot": {"index": "1", "name": "tea"}}'):
            self.assertIsNone(pot_name_of(body))
        self.assertIsNone(pot_name_of(b'{"pot": {"index": 1, "name": "a\\r\\nX-Evil: 1"}}'))


class LabClientTests(TestCase):
    """A L{PotClient} in the lab's ways against a real pot server on loopback."""

    def serve(self) -> tuple[int, list[int]]:
        server = buildPotServer(fast_config())
        for pot in server.pots:
            self.addCleanup(pot.shutdown)
        counted = [0]
        build = server.factory.buildProtocol

        def counting(address: object) -> Protocol:
            counted[0] += 1
            return build(address)

        server.factory.buildProtocol = counting  # type: ignore[method-assign]
        listening: list[IListeningPort] = []
        TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(server.factory).addCallback(
            listening.append
        )
        self.addCleanup(listening[0].stopListening)
        return listening[0].getHost().port, counted

    async def test_per_request_opens_a_connection_for_each_and_closes_it(self) -> None:
        port, counted = self.serve()
        client = PotClient(endpoint=f"tcp:127.0.0.1:{port}", connections="per-request")
        self.addCleanup(client.close)
        for _ in range(3):
            self.assertEqual((await client.get("/pot-0")).status, 200)
        self.assertEqual(counted[0], 3)
        self.assertEqual(client.pool.idle_count(), 0)

    async def test_pooled_reuses_one_connection(self) -> None:
        port, counted = self.serve()
        client = PotClient(endpoint=f"tcp:127.0.0.1:{port}")
        self.addCleanup(client.close)
        for _ in range(3):
            self.assertEqual((await client.get("/pot-0")).status, 200)
        self.assertEqual(counted[0], 1)

    async def test_the_lab_dialect_is_understood_and_learns_names(self) -> None:
        port, _ = self.serve()
        sent: list[bytes] = []
        client = PotClient(
            endpoint=f"tcp:127.0.0.1:{port}",
            dialect="lab",
            connections="per-request",
            on_exchange=lambda exchange: sent.append(exchange.request),
        )
        self.addCleanup(client.close)
        self.assertEqual((await client.propfind("/pot-1")).status, 200)
        self.assertEqual((await client.brew("/pot-1", ["Cream"])).status, 418)
        answer = await client.brew("/pot-0", ["Cream", "Whisky"])
        self.assertEqual(answer.status, 200)
        self.assertEqual(
            sent[1],
            b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
            b"Accept-Additions: cream\r\nUse-Pot: tea\r\n\r\nstart",
        )
        self.assertIn(b"\r\nUse-Pot: pot-0\r\n", sent[2])
        self.assertEqual((await client.get("/pot-0")).status, 200)

    def test_unknown_options_are_refused(self) -> None:
        self.assertRaises(InvalidRequest, PotClient, connections="sometimes")
        self.assertRaises(InvalidRequest, PotClient, dialect="klingon")

    async def test_the_tls_client_logs_its_secrets(self) -> None:
        directory = Path(self.mktemp())
        description = with_certificate("ssl:0:interface=127.0.0.1", directory)
        server = buildPotServer(fast_config())
        for pot in server.pots:
            self.addCleanup(pot.shutdown)
        listening: list[IListeningPort] = []
        server_endpoint(reactor, description).listen(server.factory).addCallback(listening.append)
        self.addCleanup(listening[0].stopListening)
        port = listening[0].getHost().port
        keylog = KeyLog(Path(self.mktemp()).absolute())
        self.addCleanup(keylog.close)
        client = PotClient(
            tls=True,
            cafile=str(directory / CERTIFICATE_FILE),
            keylog=keylog,
            connections="per-request",
        )
        self.addCleanup(client.close)
        self.assertEqual((await client.get(f"coffee://localhost:{port}/pot-0")).status, 200)
        labels = {line.split(" ")[0] for line in keylog.path.read_text().splitlines()}
        self.assertIn("CLIENT_TRAFFIC_SECRET_0", labels)
        self.assertIn("SERVER_TRAFFIC_SECRET_0", labels)
