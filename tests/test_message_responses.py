"""Tests for the client's response parser and for writing messages."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    REASONS,
    Limits,
    ProtocolError,
    Response,
    ResponseParser,
    serialize_request,
    serialize_response,
)

DOCUMENTED_REASONS = {
    100: "Continue",
    200: "OK",
    300: "Multiple Options",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    417: "Expectation Failed",
    418: "I'm a teapot",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
}
"""docs/protocol.md's status codes with RFC 9110's reason phrases (RFC 2324's for 418)."""


def responses(data: bytes, eof: bool = False, head: bool = False) -> list[object]:
    """Every event C{data} gives, up to the first that is not a response."""
    parser = ResponseParser()
    parser.receive_data(data)
    if eof:
        parser.receive_data(b"")
    found: list[object] = []
    while isinstance(event := parser.next_event(head_request=head), Response):
        found.append((event.status, event.reason, dict(event.headers), event.body))
    return [*found, event]


def refusal(data: bytes, limits: Limits | None = None) -> tuple[int, str]:
    parser = ResponseParser(limits)
    parser.receive_data(data)
    parser.receive_data(b"")
    error = SynchronousTestCase().assertRaises(ProtocolError, parser.next_event)
    return error.status, error.detail


class BodilessResponseTests(SynchronousTestCase):
    def test_informational_response_has_no_body(self) -> None:
        data = b"HTCPCP/1.1 100 Continue\r\n\r\nHTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        self.assertEqual(
            responses(data),
            [(100, "Continue", {}, b""), (200, "OK", {"content-length": "2"}, b"{}"), NEED_DATA],
        )

    def test_last_informational_status_has_no_body(self) -> None:
        data = b"HTCPCP/1.1 199 Later\r\n\r\nHTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.assertEqual([e[0] for e in responses(data)[:2]], [199, 200])  # type: ignore[index]

    def test_204_has_no_body_whatever_its_length(self) -> None:
        data = b"HTCPCP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
        self.assertEqual(
            responses(data), [(204, "No Content", {"content-length": "5"}, b""), NEED_DATA]
        )

    def test_304_has_no_body_and_needs_no_length(self) -> None:
        data = b"HTCPCP/1.1 304 Not Modified\r\n\r\nHTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        self.assertEqual([e[0] for e in responses(data)[:2]], [304, 200])  # type: ignore[index]

    def test_200_without_a_length_reads_to_close(self) -> None:
        self.assertEqual(responses(b"HTCPCP/1.1 200 OK\r\n\r\n{}"), [NEED_DATA])

    def test_head_answer_has_no_body(self) -> None:
        data = b"HTCPCP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nHTCPCP/1.1 200 OK\r\n\r\n"
        self.assertEqual([e[0] for e in responses(data, head=True)[:2]], [200, 200])  # type: ignore[index]


class ReadToCloseTests(SynchronousTestCase):
    def test_body_is_everything_until_close(self) -> None:
        self.assertEqual(
            responses(b"HTCPCP/1.1 200 OK\r\n\r\n{}\r\n\r\nmore", eof=True),
            [(200, "OK", {}, b"{}\r\n\r\nmore"), PEER_CLOSED],
        )

    def test_empty_body_at_close(self) -> None:
        self.assertEqual(
            responses(b"HTCPCP/1.1 200 OK\r\n\r\n", eof=True), [(200, "OK", {}, b""), PEER_CLOSED]
        )

    def test_close_with_nothing_sent(self) -> None:
        self.assertEqual(responses(b"", eof=True), [PEER_CLOSED])
        self.assertEqual(responses(b"\r\n \r\n", eof=True), [PEER_CLOSED])

    def test_close_inside_a_head(self) -> None:
        self.assertEqual(
            refusal(b"HTCPCP/1.1 200 OK\r\nX: 1"),
            (400, "the connection closed inside a response head"),
        )

    def test_body_read_to_close_is_bounded(self) -> None:
        parser = ResponseParser(Limits(body=10))
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\n\r\n0123456789")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"X")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (413, "the response body is over 10 bytes"))

    def test_head_starting_with_a_blank_line_is_malformed(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"\n\r\nHTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (400, "malformed status line"))

    def test_head_starting_with_an_empty_line_is_malformed(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"\n\nHTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (400, "malformed status line"))

    def test_an_empty_line_then_close_is_a_malformed_status_line(self) -> None:
        self.assertEqual(refusal(b"\n\n"), (400, "malformed status line"))

    def test_read_to_close_after_a_sized_response(self) -> None:
        data = b"HTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTCPCP/1.1 200 OK\r\n\r\nlast"
        self.assertEqual(
            responses(data, eof=True),
            [
                (200, "OK", {"content-length": "2"}, b"{}"),
                (200, "OK", {}, b"last"),
                PEER_CLOSED,
            ],
        )

    def test_raw_holds_the_whole_response(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\n\r\n{}")
        parser.receive_data(b"")
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual(response.raw, b"HTCPCP/1.1 200 OK\r\n\r\n{}")


class FramedResponseTests(SynchronousTestCase):
    def test_chunked_then_another(self) -> None:
        data = (
            b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
            b"HTCPCP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\n\r\n"
        )
        self.assertEqual(
            responses(data),
            [
                (200, "OK", {"transfer-encoding": "chunked"}, b"{}"),
                (418, "I'm a teapot", {"content-length": "0"}, b""),
                NEED_DATA,
            ],
        )

    def test_chunked_response_raw_is_the_whole_exchange(self) -> None:
        data = (
            b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nT: 1\r\n\r\n"
        )
        parser = ResponseParser()
        parser.receive_data(data[:40])
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(data[40:] + b"HTCPCP/1.1")
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual((response.body, response.raw), (b"{}", data))

    def test_short_response_after_a_head_that_arrived_in_pieces(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"\r\nHTCPCP/1.1 204 No\r\n\r\n")
        statuses = [getattr(parser.next_event(), "status", None) for _ in range(2)]
        self.assertEqual(statuses, [200, 204])

    def test_chunked_body_in_pieces_is_in_raw_once(self) -> None:
        head = b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        parser = ResponseParser()
        for piece in (head + b"2\r\n{", b"}\r\n", b"0\r\n"):
            parser.receive_data(piece)
            self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"\r\n")
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual((response.body, response.raw), (b"{}", head + b"2\r\n{}\r\n0\r\n\r\n"))

    def test_body_in_many_segments(self) -> None:
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
        for piece in (b"01", b"234", b"56789"):
            self.assertIs(parser.next_event(), NEED_DATA)
            parser.receive_data(piece)
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual(response.body, b"0123456789")

    def test_incomplete_chunked_body_waits(self) -> None:
        self.assertEqual(
            responses(b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{"), [NEED_DATA]
        )

    def test_close_inside_a_chunked_body(self) -> None:
        data = b"HTCPCP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{"
        self.assertEqual(refusal(data), (400, "the connection closed inside a response body"))

    def test_incomplete_sized_body_waits(self) -> None:
        self.assertEqual(responses(b"HTCPCP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{"), [NEED_DATA])

    def test_close_inside_a_sized_body(self) -> None:
        data = b"HTCPCP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{"
        self.assertEqual(refusal(data), (400, "the connection closed inside a response body"))

    def test_reason_ending_in_x(self) -> None:
        self.assertEqual(
            responses(b"HTCPCP/1.1 200 PYREX\r\nContent-Length: 0\r\n\r\n"),
            [(200, "PYREX", {"content-length": "0"}, b""), NEED_DATA],
        )

    def test_status_line_without_a_reason(self) -> None:
        data = b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
        parser = ResponseParser()
        parser.receive_data(data)
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual(
            (response.version, response.status, response.reason), ("HTTP/1.1", 200, "")
        )

    def test_reason_is_utf8_with_replacement(self) -> None:
        data = b"HTCPCP/1.1 200 Caf\xc3\xa9 \xff\r\nContent-Length: 0\r\n\r\n"
        self.assertEqual(responses(data)[0][1], "Café \ufffd")  # type: ignore[index]

    def test_malformed_status_lines(self) -> None:
        for line in (b"garbage", b"HTCPCP/1.1 2000 OK", b"HTCPCP/1.1  200 OK", b"HTCPCP/11 200 OK"):
            self.assertEqual(refusal(line + b"\r\n\r\n"), (400, "malformed status line"), line)


class ResponseLimitTests(SynchronousTestCase):
    def test_head_without_an_end_is_bounded(self) -> None:
        """Up to 24 KiB (16 KiB of headers and an 8 KiB status line) may wait for more."""
        parser = ResponseParser()
        parser.receive_data(b"x" * (24 * 1024))
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"x")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "the response head is too large"))

    def test_default_body_limit_is_one_mebibyte(self) -> None:
        length = 1024 * 1024
        head = b"HTCPCP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
        self.assertEqual(responses(head % length), [NEED_DATA])
        self.assertEqual(refusal(head % (length + 1)), (413, "bodies are limited to 1048576 bytes"))

    def test_limits_given(self) -> None:
        data = b"HTCPCP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n"
        self.assertEqual(refusal(data, Limits())[0], 413)

    def test_a_hundred_header_lines_and_the_status_line(self) -> None:
        headers = b"".join(b"X-%d: 1\r\n" % i for i in range(99)) + b"Content-Length: 0\r\n"
        parser = ResponseParser()
        parser.receive_data(b"HTCPCP/1.1 200 OK\r\n" + headers + b"\r\n")
        response = parser.next_event()
        assert isinstance(response, Response)
        self.assertEqual((response.status, len(response.headers)), (200, 100))

    def test_header_limits_apply(self) -> None:
        headers = b"".join(b"X-%d: 1\r\n" % i for i in range(101))
        self.assertEqual(refusal(b"HTCPCP/1.1 200 OK\r\n" + headers + b"\r\n")[0], 431)


class SerializeTests(SynchronousTestCase):
    def test_documented_reason_phrases(self) -> None:
        self.assertEqual(dict(REASONS), DOCUMENTED_REASONS)
        for status, reason in DOCUMENTED_REASONS.items():
            line = serialize_response("HTCPCP/1.1", status, []).split(b"\r\n")[0]
            self.assertEqual(line, f"HTCPCP/1.1 {status} {reason}".encode())

    def test_response_with_an_unknown_status(self) -> None:
        self.assertEqual(
            serialize_response("HTTP/1.0", 299, [("A", "b"), ("C", "d")], b"xy"),
            b"HTTP/1.0 299 Unknown\r\nA: b\r\nC: d\r\n\r\nxy",
        )

    def test_request_without_a_body_has_no_length(self) -> None:
        self.assertEqual(serialize_request("GET", "/x"), b"GET /x HTCPCP/1.1\r\n\r\n")

    def test_request_with_a_body(self) -> None:
        self.assertEqual(
            serialize_request("BREW", "/x", [("A", "b")], b"start", "HTTP/1.0"),
            b"BREW /x HTTP/1.0\r\nA: b\r\nContent-Length: 5\r\n\r\nstart",
        )

    def test_utf8_target(self) -> None:
        self.assertEqual(
            serialize_request("GET", "кофе://ducky"), "GET кофе://ducky HTCPCP/1.1\r\n\r\n".encode()
        )


class ResponseValueTests(SynchronousTestCase):
    def test_responses_are_frozen_values(self) -> None:
        response = Response("HTCPCP/1.1", 200, "OK", {})
        self.assertEqual((response.body, response.raw), (b"", b""))
        self.assertRaises(FrozenInstanceError, setattr, response, "status", 500)
