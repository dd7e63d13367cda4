"""
Integration tests of the pot server over real loopback sockets.

The server runs in this process on the real reactor; the clients are plain
blocking sockets run in threads, so the bytes and segment boundaries on
the wire are exactly the ones written here.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from pathlib import Path

from twisted.internet import defer, reactor, threads
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.ssl import PrivateCertificate
from twisted.trial.unittest import TestCase

from htcpcp.config import BEANS, default_config
from htcpcp.message import NEED_DATA, PEER_CLOSED, Response, ResponseParser
from htcpcp.pot import Brew
from htcpcp.service import buildPotServer
from htcpcp.storage import History
from htcpcp.tls import self_signed_pem

LAB_TYPE = b"Content-Type: application/coffee-pot-command\r\n"


def parse_responses(data: bytes, head: bool = False) -> list[Response]:
    parser = ResponseParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    found = []
    while (event := parser.next_event(head)) not in (NEED_DATA, PEER_CLOSED):
        assert isinstance(event, Response)
        found.append(event)
    return found


def exchange(
    port: int,
    *parts: bytes,
    delay: float = 0.0,
    half_close: bool = True,
    wrap: ssl.SSLContext | None = None,
    server_name: str = "localhost",
) -> bytes:
    """Send C{parts} (a delay apart), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        sock = wrap.wrap_socket(raw, server_hostname=server_name) if wrap else raw
        for index, part in enumerate(parts):
            if index and delay:
                time.sleep(delay)
            sock.sendall(part)
        if half_close and wrap is None:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
            if wrap is not None and b"Connection: close" in received:
                break
        return received


class LoopbackTests(TestCase):
    """The pot server on 127.0.0.1 with a real brew history."""

    async def setUp(self) -> None:
        self.history = History(str(Path(self.mktemp() + ".sqlite3").absolute()))
        config = default_config().with_brew_time(0.5)
        self.server = buildPotServer(config, self.history)
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        self.port = await endpoint.listen(self.server.factory)
        self.addCleanup(self._stop)

    async def _stop(self) -> None:
        await self.port.stopListening()
        for pot in self.server.pots:
            pot.shutdown()
        self.history.close()

    def run_client(self, *parts: bytes, **options: object) -> object:
        return threads.deferToThread(exchange, self.port.getHost().port, *parts, **options)

    async def test_lab_brew_in_one_segment_then_get(self) -> None:
        brewed = await self.run_client(
            b"BREW coffee://ducky HTTP/1.1\r\n"
            + LAB_TYPE
            + b"Accept-Additions: whole-milk\r\nUse-Pot: ducky\r\n\r\nstart"
        )
        [response] = parse_responses(brewed)
        self.assertEqual(response.status, 200)
        got = await self.run_client(b"GET coffee://ducky HTTP/1.1\r\n" + LAB_TYPE + b"\r\n")
        last_line = got.splitlines()[-1]
        self.assertEqual(json.loads(last_line)["additions"], ["whole-milk"])

    async def test_body_300ms_after_head(self) -> None:
        await self.run_client(
            b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: message/coffeepot\r\n"
            b"Content-Length: 5\r\n\r\nstart"
        )
        received = await self.run_client(
            b"BREW coffee://ducky HTTP/1.1\r\n" + LAB_TYPE + b"\r\n", b"stop", delay=0.3
        )
        [response] = parse_responses(received)
        self.assertEqual((response.status, json.loads(response.body)["outcome"]), (200, "stopped"))

    async def test_ten_pipelined_in_one_write(self) -> None:
        requests = b"".join(
            b"GET /pot-%d HTCPCP/1.1\r\nX-Seq: %d\r\n\r\n" % (i % 2, i) for i in range(9)
        )
        requests += b"GET /log?per_page=3 HTCPCP/1.1\r\nConnection: close\r\n\r\n"
        responses = parse_responses(await self.run_client(requests, half_close=False))
        self.assertEqual([r.status for r in responses], [200] * 10)
        self.assertEqual(json.loads(responses[-1].body)["per_page"], 3)

    async def test_garbage_then_others_still_served(self) -> None:
        garbage = await self.run_client(b"\x00\xffNOT HTCPCP AT ALL\x00\r\n\r\n")
        self.assertTrue(garbage.startswith(b"HTCPCP/1.1 400 "))
        fine = await self.run_client(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertTrue(fine.startswith(b"HTCPCP/1.1 200 OK"))

    async def test_history_over_htcpcp(self) -> None:
        for _ in range(3):
            await self.run_client(
                b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: message/coffeepot"
                b"\r\nContent-Length: 5\r\n\r\nstart"
            )
            await self.run_client(
                b"BREW /pot-0 HTCPCP/1.1\r\nContent-Type: message/coffeepot"
                b"\r\nContent-Length: 4\r\n\r\nstop"
            )
        [page] = parse_responses(await self.run_client(b"GET /log?per_page=2 HTCPCP/1.1\r\n\r\n"))
        listing = json.loads(page.body)
        self.assertEqual((listing["total"], listing["pages"], len(listing["brews"])), (3, 2, 2))
        self.assertEqual(listing["outcomes"], {"stopped": 3})
        [second] = parse_responses(
            await self.run_client(b"GET /log?page=2&per_page=2 HTCPCP/1.1\r\n\r\n")
        )
        self.assertEqual(len(json.loads(second.body)["brews"]), 1)
        [bad] = parse_responses(await self.run_client(b"GET /log?page=0 HTCPCP/1.1\r\n\r\n"))
        self.assertEqual(bad.status, 400)

    async def test_half_close_straight_after_the_request(self) -> None:
        """Clients that half-close as soon as their request is sent get every answer."""
        requests = [b"GET /pot-%d HTTP/1.1\r\nHost: ducky\r\n\r\n" % (i % 2) for i in range(200)]
        answers = await defer.gatherResults([self.run_client(request) for request in requests])
        statuses = [[r.status for r in parse_responses(answer)] for answer in answers]
        self.assertEqual(statuses, [[200]] * len(requests))

    async def test_large_answer_then_half_close(self) -> None:
        """An answer bigger than the socket buffer is written in full, then the connection ends."""
        for number in range(250):
            await self.history.record(
                Brew(
                    f"b{number:04}",
                    "ducky",
                    "coffee",
                    None,
                    ("Cream",),
                    BEANS[0],
                    1000.0 + number,
                    1030.0 + number,
                    True,
                    outcome="ready",
                )
            )
        received = await self.run_client(b"GET /log?per_page=200 HTCPCP/1.1\r\n\r\n")
        [response] = parse_responses(received)
        self.assertGreater(len(response.body), 64 * 1024)
        self.assertEqual(len(json.loads(response.body)["brews"]), 200)


class TLSTests(TestCase):
    async def setUp(self) -> None:
        both, alone = self_signed_pem(["localhost"], ["127.0.0.1"])
        self.cafile = Path(self.mktemp())
        self.cafile.write_bytes(alone)
        self.server = buildPotServer(default_config())
        options = PrivateCertificate.loadPEM(both.decode()).options()
        endpoint = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
        self.port = await endpoint.listen(self.server.factory)
        self.addCleanup(self.port.stopListening)

    async def test_verified_tls_exchange(self) -> None:
        context = ssl.create_default_context(cafile=str(self.cafile))
        received = await threads.deferToThread(
            exchange,
            self.port.getHost().port,
            b"GET coffee://localhost/pot-0 HTCPCP/1.1\r\nConnection: close\r\n\r\n",
            wrap=context,
        )
        [response] = parse_responses(received)
        self.assertEqual((response.status, response.body), (200, b"{}"))

    async def test_tls_garbage_on_tls_port(self) -> None:
        received = await threads.deferToThread(
            exchange, self.port.getHost().port, b"GET /pot-0 HTCPCP/1.1\r\n\r\n"
        )
        self.assertNotIn(b"HTCPCP", received)
        context = ssl.create_default_context(cafile=str(self.cafile))
        again = await threads.deferToThread(
            exchange,
            self.port.getHost().port,
            b"GET /pot-1 HTCPCP/1.1\r\nConnection: close\r\n\r\n",
            wrap=context,
        )
        self.assertTrue(again.startswith(b"HTCPCP/1.1 200 OK"))
