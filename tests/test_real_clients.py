# -*- test-case-name: tests.test_real_clients -*-
"""
The pot server against the clients people have: the lab's own web app, curl,
Python's http.client and urllib, treq, and an IoT scanner's service ping.

Each runs for real against a server on 127.0.0.1: the blocking clients in
threads (their bytes and segments are theirs, not ours), curl as the
installed binary.  Without curl its tests skip, saying so, unless
C{HTCPCP_REQUIRE_TOOLS=1} (as in CI), where they fail instead.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import treq
from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.web.client import HTTPConnectionPool

from htcpcp.config import default_config
from htcpcp.message import Response, ResponseParser
from htcpcp.service import buildPotServer
from htcpcp.storage import History
from tests.helpers import eventually, require_program
from tests.labclient import (
    ADDITIONS,
    BEAN_KEYS,
    LabAnswer,
    beans_page,
    home_page,
    lab_request,
    lab_send,
)

BREW_TIME = 2.0
COFFEE = {"Content-Type": "message/coffeepot"}


class RealClientTests(TestCase):
    """A pot server with a history on a loopback port, and real clients."""

    async def setUp(self) -> None:
        self.history = History(str(Path(self.mktemp() + ".sqlite3").absolute()))
        self.server = buildPotServer(default_config().with_brew_time(BREW_TIME), self.history)
        endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        self.port = await endpoint.listen(self.server.factory)
        self.number = self.port.getHost().port
        self.addCleanup(self._stop)

    async def _stop(self) -> None:
        await self.port.stopListening()
        await self.server.close()

    def url(self, path: str = "/pot-0") -> str:
        return f"http://127.0.0.1:{self.number}{path}"

    async def lab(self, method: str, **options: object) -> LabAnswer:
        return await threads.deferToThread(lab_request, self.number, method, **options)

    async def wait_for_brew(self) -> None:
        await eventually(lambda: self.server.pots[0].state.value != "brewing", within=5)

    def sleep(self, seconds: float) -> Deferred[None]:
        return deferLater(reactor, seconds, lambda: None)


class LabAppTests(RealClientTests):
    """Every page of the lab's own web app, through its exact client code."""

    async def test_idle_shows_the_brew_form(self) -> None:
        answer = await self.lab("GET")
        self.assertEqual((answer.status, answer.json), ("200", {}))
        self.assertTrue(home_page(answer).brew_form)

    async def test_brew_with_milk_countdown_when_and_a_new_pot(self) -> None:
        brewed = await self.lab("BREW", additions=("whole-milk",), pot="ducky", body="start")
        self.assertEqual(brewed.status, "200", brewed.raw)
        counting = home_page(await self.lab("GET"))
        self.assertEqual(counting.additions, ("Whole-Milk",))
        self.assertEqual((counting.brew_form, counting.say_when_link), (False, False))
        await self.wait_for_brew()
        pouring = home_page(await self.lab("GET"))
        self.assertEqual((pouring.ready, pouring.say_when_link), (True, True))
        said = await self.lab("WHEN")
        self.assertEqual(said.status, "200", said.raw)
        stopped = home_page(await self.lab("GET"))
        self.assertEqual((stopped.milk_stopped, stopped.say_when_link), (True, False))
        new_pot = await self.lab("BREW", body="stop")
        self.assertEqual(new_pot.status, "200", new_pot.raw)
        self.assertTrue(home_page(await self.lab("GET")).brew_form)

    async def test_ready_without_milk_then_brew_a_new_pot(self) -> None:
        await self.lab("BREW", additions=("vanilla",), body="start")
        await self.wait_for_brew()
        ready = await self.lab("GET")
        self.assertEqual((home_page(ready).ready, ready.json["pour_milk_start"]), (True, ""))
        self.assertIs(ready.json["pour_milk_stop"], False)
        self.assertEqual((await self.lab("BREW", body="stop")).status, "200")
        again = await self.lab("BREW", additions=("rum",), body="start")
        self.assertEqual(again.status, "200", again.raw)

    async def test_all_eighteen_additions_fit_one_recv(self) -> None:
        brewed = await self.lab("BREW", additions=ADDITIONS, body="start")
        self.assertEqual(brewed.status, "200", brewed.raw)
        self.assertLessEqual(len(brewed.raw), 1024)
        got = await self.lab("GET")
        self.assertLessEqual(len(got.raw), 1024)
        page = home_page(got)
        self.assertNotIn(None, page.additions)
        self.assertEqual(len(page.additions), 18)
        head, body = got.raw.split(b"\r\n\r\n", 1)
        self.assertRegex(head, rb"\r\nContent-Length: %d(\r\n|$)" % len(body))

    async def test_beans_page(self) -> None:
        idle = beans_page(await self.lab("PROPFIND"))
        self.assertNotIn(None, idle.values())
        await self.lab("BREW", body="start")
        brewing = beans_page(await self.lab("PROPFIND"))
        self.assertEqual(set(brewing), set(BEAN_KEYS))
        self.assertNotIn(None, brewing.values())
        self.assertEqual(brewing["name"], (await self.lab("GET")).json["coffee_bean"]["name"])

    async def test_teapot_418(self) -> None:
        answer = await self.lab("BREW", pot="tea", body="start")
        self.assertEqual(answer.status, "418")

    async def test_chamomile_tea_406_lists_the_additions(self) -> None:
        answer = await self.lab("BREW", additions=("tea",), body="start")
        self.assertEqual(answer.status, "406")
        listed = answer.raw.split(b"\r\n\r\n", 1)[1].decode()
        self.assertIn("Whole-milk", listed)
        self.assertIn("Oat milk", listed)

    async def test_diagnostic_pages(self) -> None:
        cases = {
            b"GET caffeine://ducky HTTP/1.1\r\n\r\n": "400",
            b"GET coffee://psyduck HTTP/1.1\r\n\r\n": "404",
            b"GET coffee://ducky HTTP/1.1\r\nContent-Type: application/tea-pot-command\r\n\r\n": (
                "415"
            ),
            b"MILK coffee://ducky HTTP/1.1\r\n\r\n": "501",
        }
        for sent, status in cases.items():
            answer = await threads.deferToThread(lab_send, self.number, sent)
            self.assertEqual(answer.status, status, answer.raw)
            self.assertTrue(answer.raw.startswith(b"HTCPCP/1.1 "), answer.raw)


class CurlTests(RealClientTests):
    """The curl binary, as the README shows it."""

    def setUp(self) -> object:
        self.curl = require_program("curl", "curl")
        return super().setUp()

    async def run_curl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        command = [self.curl, "-s", "-i", "--max-time", "5", *arguments]
        done = await threads.deferToThread(subprocess.run, command, capture_output=True, timeout=10)
        return subprocess.CompletedProcess(
            command, done.returncode, done.stdout.decode(), done.stderr.decode()
        )

    async def test_brew_get_propfind_when(self) -> None:
        brew = ["-X", "BREW", "-H", "Content-Type: message/coffeepot"]
        brewed = await self.run_curl(
            *brew, "-H", "Accept-Additions: Cream", "-d", "start", self.url()
        )
        self.assertEqual(brewed.returncode, 0, brewed.stderr)
        self.assertTrue(brewed.stdout.startswith("HTTP/1.1 200 OK\r\n"), brewed.stdout)
        got = await self.run_curl(self.url())
        self.assertTrue(got.stdout.startswith("HTTP/1.1 200 OK\r\n"), got.stdout)
        self.assertEqual(json.loads(got.stdout.split("\r\n\r\n", 1)[1])["additions"], ["Cream"])
        found = await self.run_curl("-X", "PROPFIND", self.url())
        self.assertIn('"kind":"coffee"', found.stdout)
        await self.wait_for_brew()
        said = await self.run_curl("-X", "WHEN", self.url())
        self.assertTrue(said.stdout.startswith("HTTP/1.1 200 OK\r\n"), said.stdout)
        self.assertIs(json.loads(said.stdout.split("\r\n\r\n", 1)[1])["pour_milk_stop"], True)

    async def test_expect_100_continue(self) -> None:
        sent = await self.run_curl(
            "-X", "BREW", "-H", "Content-Type: message/coffeepot",
            "-H", "Expect: 100-continue", "-d", "start", self.url(),
        )  # fmt: skip
        self.assertTrue(sent.stdout.startswith("HTTP/1.1 100 Continue\r\n\r\n"), sent.stdout)
        self.assertIn("HTTP/1.1 200 OK\r\n", sent.stdout)


class PythonClientTests(RealClientTests):
    """Python's http.client and urllib, and treq: HTTP libraries read every answer."""

    def http_client(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.number, timeout=5)
        try:
            headers = COFFEE if body is not None else {}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    async def test_http_client(self) -> None:
        status, body = await threads.deferToThread(self.http_client, "BREW", "/pot-0", b"start")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["beverage_type"], "Coffee")
        status, body = await threads.deferToThread(self.http_client, "GET", "/pot-1")
        self.assertEqual((status, json.loads(body)), (200, {}))
        status, _ = await threads.deferToThread(self.http_client, "GET", "/pot-9")
        self.assertEqual(status, 404)

    def urllib_brew(self, data: bytes) -> tuple[int, str]:
        request = urllib.request.Request(self.url(), data=data, method="BREW", headers=COFFEE)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.headers["Safe"]
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Safe"]

    async def test_urllib(self) -> None:
        self.assertEqual(await threads.deferToThread(self.urllib_brew, b"start"), (200, "no"))
        self.assertEqual(await threads.deferToThread(self.urllib_brew, b"start"), (409, "no"))

    async def test_treq(self) -> None:
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        response = await treq.request("BREW", self.url(), data=b"start", headers=COFFEE, pool=pool)
        self.assertEqual(response.code, 200)
        await treq.content(response)
        got = await treq.get(self.url("/pots"), pool=pool)
        listing = await treq.json_content(got)
        self.assertEqual([p["name"] for p in listing["pots"]], ["ducky", "tea"])


class ScannerAndFramingTests(RealClientTests):
    """Clients that send what no library would: scanners' pings, pipelines after no length."""

    def exchange(self, data: bytes, seconds: float = 3.0) -> tuple[bytes, float]:
        """Send C{data}, read until the server closes; how long the first answer took."""
        started = time.monotonic()
        first = None
        with socket.create_connection(("127.0.0.1", self.number), timeout=seconds) as sock:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(4096):
                first = first or time.monotonic() - started
                received += chunk
        return received, first or seconds

    async def test_scanner_ping_answered_within_a_second(self) -> None:
        """Cotopaxi's ping: a BREW with no body and no length, and 1 s to answer."""
        ping = b"BREW kafo://pot-0 HTCPCP/1.0\r\nContent-Type: message/coffeepot\r\n\r\n"
        received, seconds = await threads.deferToThread(self.exchange, ping, 1.0)
        self.assertIn(b"HTCPCP/1.0", received)
        self.assertLess(seconds, 1.0)

    async def test_pipelined_request_after_a_lengthless_brew(self) -> None:
        pipeline = (
            b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n\r\n"
            b"GET coffee://ducky/pot-1 HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
        received, _ = await threads.deferToThread(self.exchange, pipeline)
        parser = ResponseParser()
        parser.receive_data(received)
        parser.receive_data(b"")
        first, second = parser.next_event(), parser.next_event()
        assert isinstance(first, Response) and isinstance(second, Response)
        self.assertEqual((first.status, second.status, second.body), (400, 200, b"{}"))

    async def test_lab_body_in_a_later_segment(self) -> None:
        with socket.create_connection(("127.0.0.1", self.number), timeout=5) as sock:
            sock.sendall(
                b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command"
                b"\r\n\r\n"
            )
            await self.sleep(0.2)
            sock.sendall(b"start")
            answer = await threads.deferToThread(sock.recv, 1024)
        self.assertTrue(answer.startswith(b"HTCPCP/1.1 200 OK"), answer)


class MilkTypeTests(RealClientTests):
    async def test_milk_type_parameters_name_additions(self) -> None:
        """C{milk-type=Cream; syrup-type=Almond}, as public clients' examples write it."""
        answer = await threads.deferToThread(
            lab_send,
            self.number,
            b"BREW coffee://ducky HTCPCP/1.0\r\nContent-Type: application/coffee-pot-command\r\n"
            b"Accept-Additions: milk-type=Cream; syrup-type=Almond\r\nContent-Length: 5\r\n\r\n"
            b"start",
        )
        self.assertEqual((answer.status, answer.json["additions"]), ("200", ["Cream", "Almond"]))
