"""Tests for the sans-IO request and response parsers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.cache import BoundedCache
from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    Response,
    ResponseParser,
    serialize_request,
    serialize_response,
)


def parse_all(data: bytes, eof: bool = False) -> list[object]:
    parser = RequestParser()
    parser.receive_data(data)
    if eof:
        parser.receive_data(b"")
    events = []
    while (event := parser.next_event()) not in (NEED_DATA, PEER_CLOSED):
        events.append(event)
    return events


class RequestParserTests(SynchronousTestCase):
    def assertRefused(self, data: bytes, status: int, eof: bool = False) -> ProtocolError:
        error = self.assertRaises(ProtocolError, parse_all, data, eof)
        self.assertEqual(error.status, status)
        return error

    def test_lab_get(self) -> None:
        [request] = parse_all(
            b"GET coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n\r\n"
        )
        assert isinstance(request, Request)
        self.assertEqual(
            (request.method, request.target, request.version, request.body),
            ("GET", "coffee://ducky", "HTTP/1.1", b""),
        )
        self.assertEqual(request.headers["content-type"], "application/coffee-pot-command")
        self.assertTrue(request.keep_alive)

    def test_bare_lf(self) -> None:
        [request] = parse_all(b"GET /pot-0 HTCPCP/1.1\nUse-Pot: tea\n\n")
        assert isinstance(request, Request)
        self.assertEqual(request.headers, {"use-pot": "tea"})

    def test_content_length_body(self) -> None:
        [request] = parse_all(
            b"BREW /pot-0 HTCPCP/1.0\r\nContent-Length: 4\r\nContent-Type: message/coffeepot"
            b"\r\n\r\nstop"
        )
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"stop")
        self.assertFalse(request.keep_alive)

    def test_chunked_body(self) -> None:
        [request] = parse_all(
            b"BREW /pot-0 HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nsta\r\n2\r\nrt\r\n0\r\nTrailer: x\r\n\r\n"
        )
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"start")

    def test_lengthless_body_complete_word(self) -> None:
        """A BREW without a length ends as soon as its body is a command word."""
        parser = RequestParser()
        parser.receive_data(b"BREW coffee://ducky HTTP/1.1\r\nUse-Pot: ducky\r\n\r\nst")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertTrue(parser.awaiting_lengthless_body)
        parser.receive_data(b"op")
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"stop")
        self.assertTrue(request.lengthless_body)

    def test_lengthless_body_is_empty_before_a_pipelined_request(self) -> None:
        """RFC 9112 section 6.3: bytes that are not a command word are the next request."""
        [first, second] = parse_all(b"BREW / HTCPCP/1.1\r\n\r\nGET /pot-1 HTCPCP/1.1\r\n\r\n")
        assert isinstance(first, Request) and isinstance(second, Request)
        self.assertEqual((first.body, second.method, second.target), (b"", "GET", "/pot-1"))

    def test_lengthless_body_ends_at_eof(self) -> None:
        [request] = parse_all(b"BREW / HTCPCP/1.1\r\n\r\nsta", eof=True)
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"sta")

    def test_lengthless_body_ends_when_quiet(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"BREW / HTCPCP/1.1\r\n\r\nsta")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.end_lengthless_body()
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"sta")

    def test_get_without_length_has_no_body(self) -> None:
        [first, second] = parse_all(b"GET / HTCPCP/1.1\r\n\r\nGET /pot-1 HTCPCP/1.1\r\n\r\n")
        assert isinstance(first, Request) and isinstance(second, Request)
        self.assertEqual((first.body, second.target), (b"", "/pot-1"))

    def test_pipelined_in_order(self) -> None:
        data = b"".join(b"GET /pot-%d HTCPCP/1.1\r\n\r\n" % (i % 2) for i in range(10))
        events = parse_all(data)
        self.assertEqual(
            [e.target for e in events if isinstance(e, Request)],
            [f"/pot-{i % 2}" for i in range(10)],
        )

    def test_byte_by_byte(self) -> None:
        data = b"BREW /pot-0 HTCPCP/1.1\r\nContent-Length: 5\r\n\r\nstart"
        parser = RequestParser()
        for index in range(len(data)):
            parser.receive_data(data[index : index + 1])
            event = parser.next_event()
            if index < len(data) - 1:
                self.assertIs(event, NEED_DATA)
        assert isinstance(event, Request)
        self.assertEqual(event.body, b"start")

    def test_connection_close_stops_parsing(self) -> None:
        events = parse_all(b"GET / HTCPCP/1.1\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        self.assertEqual(len(events), 1)
        assert isinstance(events[0], Request)
        self.assertFalse(events[0].keep_alive)

    def test_http10_keep_alive(self) -> None:
        [request] = parse_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert isinstance(request, Request)
        self.assertTrue(request.keep_alive)

    def test_unknown_version(self) -> None:
        self.assertRefused(b"GET / HTCPCP/2.0\r\n\r\n", 505)

    def test_garbage(self) -> None:
        self.assertRefused(b"\x00\xff garbage\r\n\r\n", 400)

    def test_smuggling(self) -> None:
        self.assertRefused(
            b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400
        )

    def test_conflicting_lengths(self) -> None:
        self.assertRefused(
            b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\n", 400
        )

    def test_request_line_limit(self) -> None:
        limit = Limits().request_line
        line = b"GET /" + b"a" * (limit - len(b"GET / HTCPCP/1.1")) + b" HTCPCP/1.1"
        self.assertEqual(len(line), limit)
        self.assertEqual(len(parse_all(line + b"\r\n\r\n")), 1)
        longer = b"GET /" + b"a" * (limit + 1 - len(b"GET / HTCPCP/1.1")) + b" HTCPCP/1.1"
        self.assertRefused(longer + b"\r\n\r\n", 414)
        self.assertRefused(b"GET /" + b"a" * 9000, 414)

    def test_header_line_limit(self) -> None:
        self.assertRefused(b"GET / HTCPCP/1.1\r\nX: " + b"a" * (16 * 1024) + b"\r\n\r\n", 431)

    def test_headers_total_limit(self) -> None:
        headers = b"".join(b"X-%d: %s\r\n" % (i, b"a" * 2000) for i in range(9))
        self.assertRefused(b"GET / HTCPCP/1.1\r\n" + headers + b"\r\n", 431)

    def test_header_count_limit(self) -> None:
        ok = b"".join(b"X-%d: 1\r\n" % i for i in range(100))
        self.assertEqual(len(parse_all(b"GET / HTCPCP/1.1\r\n" + ok + b"\r\n")), 1)
        self.assertRefused(b"GET / HTCPCP/1.1\r\n" + ok + b"X-100: 1\r\n\r\n", 431)

    def test_header_count_limit_before_head_ends(self) -> None:
        """Too many headers are refused even while the head is still arriving."""
        headers = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
        self.assertRefused(b"GET / HTCPCP/1.1\r\n" + headers, 431)

    def test_body_limit(self) -> None:
        ok = b"BREW / HTCPCP/1.1\r\nContent-Length: 1024\r\n\r\n" + b"a" * 1024
        self.assertEqual(len(parse_all(ok)), 1)
        self.assertRefused(b"BREW / HTCPCP/1.1\r\nContent-Length: 1025\r\n\r\n", 413)
        chunked = b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n"
        self.assertRefused(chunked, 413)

    def test_folded_header(self) -> None:
        self.assertRefused(b"GET / HTCPCP/1.1\r\nX: a\r\n b\r\n\r\n", 400)

    def test_nul_in_header(self) -> None:
        self.assertRefused(b"GET / HTCPCP/1.1\r\nX: a\x00b\r\n\r\n", 400)

    def test_eof_inside_head(self) -> None:
        self.assertRefused(b"GET / HTCPCP/1.1\r\nX: a", 400, eof=True)

    def test_eof_between_requests(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"")
        self.assertIs(parser.next_event(), PEER_CLOSED)

    def test_error_is_sticky(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/9.9\r\n\r\n")
        self.assertRaises(ProtocolError, parser.next_event)
        parser.receive_data(b"GET / HTCPCP/1.1\r\n\r\n")
        self.assertRaises(ProtocolError, parser.next_event)

    def test_repeated_head_under_other_limits(self) -> None:
        """A head read before under looser limits is judged again under these."""
        head = b"GET /repeated HTCPCP/1.1\r\nX-1: a\r\nX-2: b\r\nX-3: c\r\n\r\n"
        self.assertEqual(len(parse_all(head)), 1)
        parser = RequestParser(Limits(header_count=2))
        parser.receive_data(head)
        self.assertEqual(self.assertRaises(ProtocolError, parser.next_event).status, 431)

    def test_repeated_heads_frame_their_own_bodies(self) -> None:
        """The same head twice: each request reads its own body, chunked or not."""
        chunked = b"BREW /pot-0 HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        sized = b"BREW /pot-0 HTCPCP/1.1\r\nContent-Length: 0\r\n\r\n"
        events = parse_all(
            chunked
            + b"5\r\nstart\r\n0\r\n\r\n"
            + chunked
            + b"4\r\nstop\r\n0\r\n\r\n"
            + sized
            + sized
            + b"GET / HTCPCP/1.1\r\n\r\n"
        )
        self.assertEqual(
            [(e.method, e.body, e.lengthless_body) for e in events],  # type: ignore[attr-defined]
            [
                ("BREW", b"start", False),
                ("BREW", b"stop", False),
                ("BREW", b"", False),
                ("BREW", b"", False),
                ("GET", b"", False),
            ],
        )

    def test_head_in_progress(self) -> None:
        parser = RequestParser()
        self.assertFalse(parser.head_in_progress)
        parser.receive_data(b"GET / HT")
        parser.next_event()
        self.assertTrue(parser.head_in_progress)


class ResponseParserTests(SynchronousTestCase):
    def test_content_length(self) -> None:
        parser = ResponseParser()
        raw = serialize_response("HTCPCP/1.1", 418, [("Content-Length", "2")], b"no")
        parser.receive_data(raw + raw)
        first = parser.next_event()
        second = parser.next_event()
        assert isinstance(first, Response) and isinstance(second, Response)
        self.assertEqual((first.status, first.reason, first.body), (418, "I'm a teapot", b"no"))
        self.assertEqual(first.raw, raw)
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_read_to_close(self) -> None:
        """The lab's server sends no length and closes the connection."""
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\nServer: CoffeePot\r\n\r\n{}")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"")
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual(response.body, b"{}")

    def test_head_response(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 406 Not Acceptable\r\nContent-Length: 30\r\n\r\n")
        response = parser.next_event(head_request=True)
        assert isinstance(response, Response)
        self.assertEqual((response.status, response.body), (406, b""))


class SerializeTests(SynchronousTestCase):
    def test_request_round_trip(self) -> None:
        raw = serialize_request(
            "BREW", "coffee://ducky/pot-0", [("Content-Type", "message/coffeepot")], b"start"
        )
        [request] = parse_all(raw)
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"start")
        self.assertEqual(request.headers["content-length"], "5")


class BoundedCacheTests(SynchronousTestCase):
    def test_starts_over_when_full(self) -> None:
        cache: BoundedCache[str, int] = BoundedCache(2)
        cache.remember("a", 1)
        cache.remember("b", 2)
        self.assertEqual(dict(cache), {"a": 1, "b": 2})
        cache.remember("c", 3)
        self.assertEqual(dict(cache), {"c": 3})
