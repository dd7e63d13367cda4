# -*- test-case-name: tests.test_hostile_limits -*-
"""
The pot server's limits against hostile input, each at its boundary.

Every hole the hardening issue measured has a test here that failed before
it was closed: answers a client never reads, a history write that never
completes, numbers with thousands of digits, bodies trickled a byte a
second, endless trailers, TLS handshakes that stall, a history that cannot
be written.  Logic runs on a L{Clock} over a L{StringTransport}; what needs
the kernel (socket buffers, TLS) runs on real loopback ports.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import ssl
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import reactor, task, threads
from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.ssl import PrivateCertificate
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.config import default_config
from htcpcp.message import Response, ResponseParser
from htcpcp.message import responses as response_reader
from htcpcp.pot import Brew
from htcpcp.service import buildPotServer
from htcpcp.storage import History
from htcpcp.tls import self_signed_pem
from tests.helpers import Connection, json_body, memory_server

MAX_UNANSWERED = 64 * 1024
"""The documented bound on unanswered bytes, and on answers a client has not read."""
REQUEST_DEADLINE = 10.0
"""The documented default deadline for a whole request, head and body."""
COFFEE = b"Content-Type: message/coffeepot\r\n"


class ScriptedHistory:
    """A brew history whose writes succeed, fail or never finish, as the test says."""

    def __init__(self, outcome: str = "hang") -> None:
        self.outcome = outcome
        self.written: list[Brew] = []
        self.pending: list[Deferred[None]] = []

    def prepare(self) -> list[Brew]:
        return []

    def record(self, brew: Brew) -> Deferred[None]:
        if self.outcome == "fail":
            return fail(sqlite3.OperationalError("database is locked"))
        self.written.append(brew)
        waiting: Deferred[None] = Deferred()
        self.pending.append(waiting)
        return waiting


def brew(body: bytes = b"start", target: bytes = b"/pot-0") -> bytes:
    return b"BREW %s HTCPCP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
        target,
        COFFEE,
        len(body),
        body,
    )


class NumberTests(SynchronousTestCase):
    """Every integer the server reads, at 0, its limit, one past it, and at 10**5000."""

    def setUp(self) -> None:
        self.server, self.clock = memory_server()

    def status(self, data: bytes) -> int:
        connection = Connection(self.server)
        connection.send(data)
        [response] = connection.responses()
        return response.status

    def test_content_length(self) -> None:
        def get(length: bytes, body: bytes = b"") -> bytes:
            return b"GET /pot-0 HTCPCP/1.1\r\nContent-Length: %s\r\n\r\n%s" % (length, body)

        self.assertEqual(self.status(get(b"0")), 200)
        self.assertEqual(self.status(get(b"1024", b"x" * 1024)), 200)
        self.assertEqual(self.status(get(b"1025")), 413)
        self.assertEqual(self.status(get(b"9" * 5000)), 413)
        self.assertEqual(self.status(get(b"0" * 5000 + b"5", b"start")), 200)

    def test_chunk_sizes(self) -> None:
        def chunked(size: bytes, data: bytes = b"") -> bytes:
            head = b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Transfer-Encoding: chunked\r\n\r\n"
            return head + size + b"\r\n" + data + b"\r\n0\r\n\r\n"

        self.assertEqual(self.status(chunked(b"5", b"start")), 200)
        self.assertEqual(self.status(chunked(b"00000000000005", b"stop ")), 200)
        self.assertEqual(self.status(chunked(b"401")), 413)
        self.assertEqual(self.status(chunked(b"f" * 200)), 413)

    def test_pot_numbers(self) -> None:
        get = b"GET /pot-%s HTCPCP/1.1\r\n\r\n"
        self.assertEqual(self.status(get % b"0"), 200)
        self.assertEqual(self.status(get % b"1"), 200)
        self.assertEqual(self.status(get % b"2"), 404)
        self.assertEqual(self.status(get % (b"9" * 5000)), 404)
        use_pot = b"GET coffee://ducky HTCPCP/1.1\r\nUse-Pot: pot-%s\r\n\r\n"
        self.assertEqual(self.status(use_pot % b"1"), 200)
        self.assertEqual(self.status(use_pot % (b"1" * 5000)), 404)
        self.assertEqual(self.status(get % "²".encode()), 404)

    def test_q_values(self) -> None:
        def with_q(q: bytes) -> bytes:
            return brew().replace(COFFEE, COFFEE + b"Accept-Additions: Cream;q=%s\r\n" % q)

        self.assertEqual(self.status(with_q(b"0")), 200)
        self.server.pots[0].shutdown()
        self.assertEqual(self.status(with_q(b"1" + b"0" * 5000)), 400)
        self.assertEqual(self.status(with_q(b"1.001")), 400)


BOUNDARY_NUMBERS = st.sampled_from(
    ["0", "1", "9", "1024", "1025", "1000000000", "1000000001", "1" + "0" * 5000]
) | st.integers(min_value=0, max_value=10**40).map(str)
"""0, the limits (a 1 KiB body, the 10**9 pages and pot numbers), one past, 10**5000, and any."""

NUMBER_FIELDS = {
    "content-length": b"GET /pot-0 HTCPCP/1.1\r\nContent-Length: %s\r\n\r\n",
    "chunk size": b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Transfer-Encoding: chunked\r\n\r\n"
    b"%s\r\n",
    "pot number": b"GET /pot-%s HTCPCP/1.1\r\n\r\n",
    "use-pot number": b"GET coffee://ducky HTCPCP/1.1\r\nUse-Pot: pot-%s\r\n\r\n",
    "q value": b"GET /pot-0 HTCPCP/1.1\r\nAccept-Additions: Cream;q=%s\r\n\r\n",
}
TYPED_STATUSES = {200, 400, 404, 406, 408, 413}


class AnyNumberTests(SynchronousTestCase):
    """Whatever number a client writes where the server reads one, the answer is a typed status."""

    @settings(max_examples=40, deadline=None)
    @given(st.sampled_from(sorted(NUMBER_FIELDS)), BOUNDARY_NUMBERS)
    def test_only_typed_statuses(self, field: str, number: str) -> None:
        """(A chunk size is read in hexadecimal: decimal digits are hexadecimal ones too.)"""
        server, clock = memory_server()
        connection = Connection(server)
        connection.send(NUMBER_FIELDS[field] % number.encode())
        clock.advance(REQUEST_DEADLINE + 1)
        responses = connection.responses()
        for pot in server.pots:
            pot.shutdown()
        self.assertTrue(responses, (field, number[:20]))
        self.assertLessEqual({r.status for r in responses}, TYPED_STATUSES, (field, number[:20]))


class LogNumberTests(TestCase):
    async def test_page_numbers(self) -> None:
        path = str(Path(self.mktemp() + ".sqlite3").absolute())
        history = History(path)
        self.addCleanup(history.close)
        server, _ = memory_server(history=history)
        for query, status in (
            (b"page=1&per_page=1", 200),
            (b"per_page=200", 200),
            (b"per_page=201", 400),
            (b"per_page=0", 400),
            (b"page=0", 400),
            (b"page=99999999999999999999", 400),
            (b"page=" + b"9" * 5000, 400),
        ):
            connection = Connection(server)
            connection.send(b"GET /log?%s HTCPCP/1.1\r\n\r\n" % query)
            for _ in range(100):
                found = connection.responses()
                if found:
                    break
                await task.deferLater(reactor, 0.01, lambda: None)
            self.assertEqual(found[0].status, status, query)


class DeadlineTests(SynchronousTestCase):
    """A whole request, head and body, must arrive within the deadline, however it trickles."""

    def setUp(self) -> None:
        self.server, self.clock = memory_server()

    def trickle(self, data: bytes) -> Connection:
        connection = Connection(self.server)
        for byte in range(len(data)):
            connection.send(data[byte : byte + 1])
            self.clock.advance(1)
            if connection.closed:
                break
        return connection

    def assertTimedOut(self, connection: Connection) -> None:
        [response] = connection.responses()
        self.assertEqual(response.status, 408)
        self.assertTrue(connection.closed)

    def test_body_with_a_length(self) -> None:
        data = b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Content-Length: 900\r\n\r\n" + b"x" * 900
        self.assertTimedOut(self.trickle(data))

    def test_chunked_body(self) -> None:
        head = b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Transfer-Encoding: chunked\r\n\r\n"
        self.assertTimedOut(self.trickle(head + b"1\r\ns\r\n" * 100))

    def test_lengthless_body_of_blanks(self) -> None:
        self.assertTimedOut(self.trickle(b"BREW coffee://ducky HTTP/1.1\r\n" + COFFEE + b"\r\n"))

    def test_deadline_is_per_request(self) -> None:
        connection = Connection(self.server)
        for _ in range(3):
            self.clock.advance(REQUEST_DEADLINE - 1)
            connection.send(b"GET /pot-0 HTCPCP/1.1\r\n")
            self.clock.advance(REQUEST_DEADLINE - 1)
            connection.send(b"\r\n")
        self.assertEqual([r.status for r in connection.responses()], [200, 200, 200])

    def test_just_in_time(self) -> None:
        connection = Connection(self.server)
        connection.send(b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Content-Length: 5\r\n\r\nst")
        self.clock.advance(REQUEST_DEADLINE - 0.01)
        connection.send(b"art")
        self.assertEqual([r.status for r in connection.responses()], [200])


class TrailerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = memory_server()

    def send_trailers(self, lines: list[bytes]) -> Response:
        head = b"BREW /pot-0 HTCPCP/1.1\r\n" + COFFEE + b"Transfer-Encoding: chunked\r\n\r\n"
        connection = Connection(self.server)
        connection.send(head + b"5\r\nstart\r\n0\r\n" + b"".join(lines) + b"\r\n")
        [response] = connection.responses()
        return response

    def test_trailers_within_the_header_limits(self) -> None:
        self.assertEqual(self.send_trailers([b"X-%d: 1\r\n" % i for i in range(100)]).status, 200)

    def test_too_many_trailer_lines(self) -> None:
        self.assertEqual(self.send_trailers([b"X-%d: 1\r\n" % i for i in range(101)]).status, 431)

    def test_a_megabyte_of_trailers(self) -> None:
        lines = [b"X: " + b"a" * 1000 + b"\r\n"] * 1000
        self.assertEqual(self.send_trailers(lines).status, 431)

    def test_one_trailer_line_too_long(self) -> None:
        self.assertEqual(self.send_trailers([b"X: " + b"a" * 16 * 1024 + b"\r\n"]).status, 431)


class WaitingForTheHistoryTests(SynchronousTestCase):
    """While an answer waits for its history write, the client cannot make the server hold more."""

    def setUp(self) -> None:
        self.history = ScriptedHistory("hang")
        self.server, self.clock = memory_server(history=self.history)  # type: ignore[arg-type]
        self.connection = Connection(self.server)

    def test_reading_pauses_once_more_arrives(self) -> None:
        self.connection.send(brew())
        self.assertEqual(self.connection.transport.producerState, "producing")  # costs no pause
        self.connection.send(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(self.connection.transport.producerState, "paused")
        self.history.pending[0].callback(None)
        self.assertEqual(self.connection.transport.producerState, "producing")
        self.assertEqual([r.status for r in self.connection.responses()], [200, 200])

    def test_reading_is_paused_behind_a_pipelined_change(self) -> None:
        self.connection.send(brew() + b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(self.connection.transport.producerState, "paused")
        self.history.pending[0].callback(None)
        self.assertEqual([r.status for r in self.connection.responses()], [200, 200])

    def test_the_unanswered_bytes_limit_holds_while_waiting(self) -> None:
        self.connection.send(brew())
        sent = 0
        while not self.connection.closed and sent < 1_000_000:
            self.connection.send(b"GET /pot-0 HTCPCP/1.1\r\n\r\n" * 100)
            sent += 2600
        self.assertTrue(self.connection.closed)
        self.assertLessEqual(sent, MAX_UNANSWERED + 2 * 2600)
        self.assertEqual(self.connection.responses()[-1].status, 413)


class UnrecordedChangeTests(SynchronousTestCase):
    """A change whose history write fails is undone and answered 503: nothing brews unrecorded."""

    def setUp(self) -> None:
        self.history = ScriptedHistory("fail")
        self.server, self.clock = memory_server(history=self.history)  # type: ignore[arg-type]
        self.connection = Connection(self.server)

    def test_start_is_undone(self) -> None:
        response = self.connection.exchange(brew())
        self.assertEqual((response.status, response.headers["retry-after"]), (503, "5"))
        pot = self.server.pots[0]
        self.assertEqual((pot.state.value, pot.current), ("idle", None))
        got = self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(json_body(got), {})
        self.clock.advance(60)
        self.assertEqual(pot.state.value, "idle")
        self.assertEqual(len(self.flushLoggedErrors(sqlite3.OperationalError)), 1)

    def test_stop_is_undone(self) -> None:
        self.history.outcome = "hang"
        self.connection.send(brew())
        self.history.pending[0].callback(None)
        self.connection.responses()
        self.history.outcome = "fail"
        self.clock.advance(5)
        response = self.connection.exchange(brew(b"stop"))
        self.assertEqual(response.status, 503)
        pot = self.server.pots[0]
        self.assertEqual(pot.state.value, "brewing")
        self.clock.advance(30)
        self.assertEqual(pot.state.value, "ready")
        self.flushLoggedErrors(sqlite3.OperationalError)

    def test_changes_wait_their_turn(self) -> None:
        """A second change to a pot waits until the first is recorded (or undone)."""
        self.history.outcome = "hang"
        first, second = Connection(self.server), Connection(self.server)
        first.send(brew())
        second.send(brew(b"stop"))
        self.assertEqual((first.responses(), second.responses()), ([], []))
        self.assertEqual(len(self.history.pending), 1)
        self.history.pending[0].callback(None)
        self.assertEqual(first.responses()[0].status, 200)
        self.assertEqual(len(self.history.pending), 2)
        self.history.pending[1].callback(None)
        self.assertEqual(json_body(second.responses()[0])["outcome"], "stopped")


class ResponseParserTests(SynchronousTestCase):
    def test_the_head_is_read_once_however_the_body_arrives(self) -> None:
        searches = []
        original = response_reader.find_head_end

        def counting(buffer: bytearray, start: int = 0) -> Any:
            found = original(buffer, start)
            searches.append(found is not None)
            return found

        self.patch(response_reader, "find_head_end", counting)
        body = b"x" * (1024 * 1024)
        data = b"HTCPCP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        parser = ResponseParser()
        for start in range(0, len(data), 1024):
            parser.receive_data(data[start : start + 1024])
            event = parser.next_event()
        assert isinstance(event, Response)
        self.assertEqual((len(event.body), searches.count(True)), (len(body), 1))


class LoopbackLimitTests(TestCase):
    """What needs real sockets: TLS handshakes, a locked database, clients that never read."""

    timeout = 60

    async def listen(self, history: Any = None, tls: bool = False) -> int:
        config = replace(default_config().with_brew_time(30), request_timeout=1.0)
        server = buildPotServer(config, history)
        self.addCleanup(server.close)
        self.server = server
        if tls:
            key, certificate = self_signed_pem(["localhost"])
            options = PrivateCertificate.loadPEM(key + certificate).options()
            endpoint: Any = SSL4ServerEndpoint(reactor, 0, options, interface="127.0.0.1")
        else:
            endpoint = TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1")
        port = await endpoint.listen(server.factory)
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)

    async def test_stalled_tls_handshake_is_cut_off(self) -> None:
        port = await self.listen(tls=True)

        def stall() -> float:
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"\x16\x03\x01")
                with contextlib.suppress(ConnectionResetError):
                    sock.recv(1)
            return time.monotonic() - started

        self.assertLess(await threads.deferToThread(stall), 3.0)
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

        def complete() -> bytes:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                context.wrap_socket(raw) as sock,
            ):
                sock.sendall(b"GET /pot-0 HTCPCP/1.0\r\n\r\n")
                return sock.recv(100)

        self.assertTrue((await threads.deferToThread(complete)).startswith(b"HTCPCP/1.0 200"))

    async def test_locked_history_refuses_the_change(self) -> None:
        path = str(Path(self.mktemp() + ".sqlite3").absolute())
        history = History(path)
        self.addCleanup(history.close)
        port = await self.listen(history)
        await history.page(None, 1, 1)
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")

        def brew_now() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(brew().replace(b"HTCPCP/1.1", b"HTCPCP/1.0"))
                return sock.recv(4096)

        answer = await threads.deferToThread(brew_now)
        locker.execute("ROLLBACK")
        locker.close()
        self.assertEqual(len(self.flushLoggedErrors(sqlite3.OperationalError)), 1)
        self.assertTrue(answer.startswith(b"HTCPCP/1.0 503 "), answer[:80])
        self.assertIn(b"\r\nRetry-After: 5\r\n", answer)
        self.assertEqual(self.server.pots[0].state.value, "idle")
        again = await threads.deferToThread(brew_now)
        self.assertTrue(again.startswith(b"HTCPCP/1.0 200 "), again[:80])
        listing = await history.page(None, 1, 10)
        self.assertEqual(len(listing["brews"]), 1)

    async def test_answers_a_client_never_reads_are_bounded(self) -> None:
        port = await self.listen()
        held: list[int] = []
        original = self.server.factory.buildProtocol

        def tracked(addr: object) -> Any:
            protocol = original(addr)
            self.addCleanup(lambda: held.append(_held_bytes(protocol)))
            protocols.append(protocol)
            return protocol

        protocols: list[Any] = []
        self.patch(self.server.factory, "buildProtocol", tracked)
        clients = [socket.socket() for _ in range(20)]
        for client in clients:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", port))
            client.setblocking(False)
            self.addCleanup(client.close)
        requests = b"GET /pot-0 HTCPCP/1.1\r\n\r\n" * 2000
        for _ in range(40):
            for client in clients:
                with contextlib.suppress(BlockingIOError):
                    client.send(requests)
            await task.deferLater(reactor, 0.02, lambda: None)
        worst = max(_held_bytes(p) for p in protocols)
        self.assertLessEqual(worst, 4 * MAX_UNANSWERED)
        normal = await threads.deferToThread(_one_get, port)
        self.assertTrue(normal.startswith(b"HTCPCP/1.0 200 OK"), normal[:40])


def _held_bytes(protocol: Any) -> int:
    """Bytes a connection holds in user space: unparsed input, unsent answers."""
    transport = protocol.transport
    unsent = len(transport.dataBuffer) + transport._tempDataLen
    return int(protocol._parser.buffered + protocol._output_bytes + unsent)


def _one_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /pot-0 HTCPCP/1.0\r\n\r\n")
        return sock.recv(100)
