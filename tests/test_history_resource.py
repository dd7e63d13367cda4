"""Tests for the log resource: JSON pages with cursors, CSV streamed over a real port."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from htcpcp.cli import execute
from htcpcp.history_resource import CSV_COLUMNS
from htcpcp.message import Response, ResponseParser
from htcpcp.service import buildPotServer
from htcpcp.storage import History

from .helpers import fast_config
from .test_history_pages import brew


def read_until_closed(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def responses(data: bytes) -> list[Response]:
    parser = ResponseParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    found = []
    while isinstance(event := parser.next_event(), Response):
        found.append(event)
    return found


class LogResourceTests(TestCase):
    count = 2500

    async def setUp(self) -> None:  # type: ignore[override]
        path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(path)
        self.addCleanup(self.history.close)
        server = buildPotServer(fast_config(), self.history)
        self.addCleanup(lambda: [pot.shutdown() for pot in server.pots])
        for number in range(1, self.count + 1):
            self.history.record(brew(number, pot="tea" if number % 5 == 0 else "ducky"))
        await self.history.record(brew(self.count + 1, additions=("=cmd|' /C calc'!A0",)))
        port = reactor.listenTCP(0, server.factory, interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        self.port = port.getHost().port

    async def ask(self, request: bytes) -> list[Response]:
        data = await deferToThread(read_until_closed, self.port, request)
        return responses(data)

    async def test_json_page_carries_a_next_cursor_that_continues(self) -> None:
        [first] = await self.ask(b"GET /log?per_page=2 HTTP/1.0\r\n\r\n")
        page = json.loads(first.body)
        self.assertEqual([b["seq"] for b in page["brews"]], [2501, 2500])
        self.assertEqual((page["total"], page["next"]), (2501, "2500"))
        [second] = await self.ask(b"GET /log?per_page=2&before=2500 HTTP/1.0\r\n\r\n")
        self.assertEqual([b["seq"] for b in json.loads(second.body)["brews"]], [2499, 2498])
        self.assertEqual(first.headers["vary"], "Accept")

    async def test_bad_numbers_and_formats_are_400(self) -> None:
        for query in (
            b"page=0",
            b"page=99999999999999999999",
            b"page=" + b"9" * 5000,
            b"per_page=201",
            b"before=abc",
            b"before=",
            b"format=xml",
        ):
            [answer] = await self.ask(b"GET /log?" + query + b" HTTP/1.0\r\n\r\n")
            self.assertEqual(answer.status, 400, query[:40])

    async def test_csv_streams_every_brew_chunked_and_the_connection_goes_on(self) -> None:
        request = b"GET /log?format=csv HTTP/1.1\r\nHost: localhost\r\n\r\n"
        following = b"GET /pot-0 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        exported, status = await self.ask(request + following)
        self.assertEqual(exported.headers["transfer-encoding"], "chunked")
        self.assertNotIn("content-length", exported.headers)
        self.assertEqual(exported.headers["content-type"], "text/csv; charset=utf-8")
        rows = list(csv.reader(io.StringIO(exported.body.decode("utf-8"))))
        self.assertEqual(tuple(rows[0]), CSV_COLUMNS)
        self.assertEqual(len(rows), self.count + 2)
        self.assertEqual([row[0] for row in rows[1:4]], ["2501", "2500", "2499"])
        self.assertEqual(rows[1][5], "'=cmd|' /C calc'!A0")
        self.assertEqual(rows[-1][8], "2023-11-14T23:13:20.000Z")
        self.assertEqual(status.status, 200)

    async def test_csv_by_accept_for_one_pot_ends_with_the_connection_on_1_0(self) -> None:
        request = b"GET /log?pot=tea HTCPCP/1.0\r\nAccept: application/json;q=0.5, text/csv\r\n\r\n"
        [exported] = await self.ask(request)
        self.assertNotIn("transfer-encoding", exported.headers)
        rows = list(csv.reader(io.StringIO(exported.body.decode("utf-8"))))[1:]
        self.assertEqual(len(rows), self.count // 5)
        self.assertEqual({row[2] for row in rows}, {"tea"})

    async def test_head_of_the_csv_has_no_body(self) -> None:
        data = await deferToThread(
            read_until_closed, self.port, b"HEAD /log?format=csv HTTP/1.0\r\n\r\n"
        )
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertIn(b"text/csv", head)
        self.assertEqual(body, b"")

    async def test_htcpcp_log_csv_writes_the_whole_history(self) -> None:
        out, err = io.StringIO(), io.StringIO()
        status = await Deferred.fromCoroutine(
            _await(
                execute(
                    ["log", f"coffee://127.0.0.1:{self.port}", "--csv", "--pot", "tea"],
                    reactor,
                    out,
                    err,
                )
            )
        )
        self.assertEqual((status, err.getvalue()), (0, ""))
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        self.assertEqual(tuple(rows[0]), CSV_COLUMNS)
        self.assertEqual(len(rows) - 1, self.count // 5)
        self.assertEqual(rows[1][0], "2500")


async def _await(deferred: Deferred[int]) -> int:
    return await deferred
