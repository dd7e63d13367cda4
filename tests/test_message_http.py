"""Tests for the parser's HTTP rules: versions, Host, Expect, length-less bodies, error versions."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    ProtocolError,
    Request,
    RequestParser,
    reply_version,
)

from .helpers import parse_pieces


def one_request(data: bytes) -> Request:
    requests, ended = parse_pieces([data])
    assert ended is PEER_CLOSED, ended
    [request] = requests
    return request


def error_of(data: bytes) -> ProtocolError:
    parser = RequestParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    try:
        while parser.next_event() is not PEER_CLOSED:
            pass
    except ProtocolError as error:
        return error
    raise AssertionError(f"{data!r} was accepted")


class VersionTests(SynchronousTestCase):
    def test_later_minor_versions_are_served_as_the_highest_known(self) -> None:
        for sent, served in (
            (b"HTCPCP/1.2", "HTCPCP/1.1"),
            (b"HTCPCP-TEA/1.9", "HTCPCP-TEA/1.0"),
            (b"HTTP/1.2", "HTTP/1.1"),
            (b"HTTP/1.10", "HTTP/1.1"),
        ):
            request = one_request(b"GET / " + sent + b"\r\nHost: ducky\r\n\r\n")
            self.assertEqual(request.version, served, sent)

    def test_other_majors_are_not_supported(self) -> None:
        for version in (b"HTTP/2.0", b"HTCPCP/2.1", b"HTCPCP-TEA/0.9", b"COFFEE/1.0"):
            error = error_of(b"GET / " + version + b"\r\n\r\n")
            self.assertEqual(
                (error.status, error.detail),
                (505, "this server speaks HTCPCP/1.0, HTCPCP/1.1 and HTTP/1.x"),
                version,
            )

    def test_version_shaped_but_not_a_version(self) -> None:
        for version in (b"HTTP/1", b"HTTP/1.", b"1.1", b"HTTP/a.b"):
            self.assertEqual(error_of(b"GET / " + version + b"\r\n\r\n").status, 400, version)


class ReplyVersionTests(SynchronousTestCase):
    def test_http_tools_get_http(self) -> None:
        for version, target in (
            ("HTTP/1.1", "/pot-0"),
            ("HTTP/1.1", "*"),
            ("HTTP/1.1", "http://ducky/"),
            ("HTTP/1.1", "HTTPS://ducky/"),
            ("HTTP/1.0", "/"),
        ):
            self.assertEqual(reply_version(version, target), version, target)

    def test_coffee_targets_get_htcpcp_of_the_same_minor(self) -> None:
        self.assertEqual(reply_version("HTTP/1.1", "coffee://ducky"), "HTCPCP/1.1")
        self.assertEqual(reply_version("HTTP/1.0", "coffee://ducky"), "HTCPCP/1.0")
        self.assertEqual(reply_version("HTTP/1.1", "httpx://ducky"), "HTCPCP/1.1")

    def test_htcpcp_versions_are_kept(self) -> None:
        for version in ("HTCPCP/1.0", "HTCPCP/1.1", "HTCPCP-TEA/1.0"):
            self.assertEqual(reply_version(version, "/pot-0"), version)

    def test_request_knows_its_reply_version(self) -> None:
        request = one_request(b"GET coffee://ducky HTTP/1.0\r\n\r\n")
        self.assertEqual(request.reply_version, "HTCPCP/1.0")

    def test_errors_after_the_request_line_carry_its_reply_version(self) -> None:
        cases = (
            (b"GET / HTTP/1.0\r\nX a\r\n\r\n", "HTTP/1.0"),
            (b"GET coffee://ducky HTTP/1.0\r\nX a\r\n\r\n", "HTCPCP/1.0"),
            (b"G(T / HTTP/1.0\r\n\r\n", "HTTP/1.0"),
            (b"GET /\x01 HTTP/1.0\r\n\r\n", "HTTP/1.0"),
            (b"BREW /x HTTP/1.0\r\nContent-Length: 99999\r\n\r\n", "HTTP/1.0"),
            (b"BREW /x HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.0"),
            (b"BREW /x HTTP/1.0\r\nContent-Length: 5\r\n\r\nsta", "HTTP/1.0"),
            (b"BREW /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nsta", "HTTP/1.0"),
            (b"GET /x HTCPCP-TEA/1.0\r\n" + b"X: 1\r\n" * 101 + b"\r\n", "HTCPCP-TEA/1.0"),
        )
        for data, version in cases:
            self.assertEqual(error_of(data).version, version, data)

    def test_early_limit_errors_carry_the_reply_version(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/1.0\r\n" + b"X: 1\r\n" * 101)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.version), (431, "HTTP/1.0"))
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/1.0\r\nX: " + b"a" * 17000)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual(
            (error.status, error.detail, error.version),
            (431, "the headers are too large", "HTTP/1.0"),
        )


class EarlyRequestLineTests(SynchronousTestCase):
    """The request line's limit (8 KiB) judged before its line end arrives."""

    line = b"GET /" + b"a" * (8192 - len(b"GET / HTCPCP/1.1")) + b" HTCPCP/1.1"

    def test_a_line_at_the_limit_waits_for_its_end(self) -> None:
        self.assertEqual(len(self.line), 8192)
        for ending in (b"", b"\r"):
            parser = RequestParser()
            parser.receive_data(self.line + ending)
            self.assertIs(parser.next_event(), NEED_DATA, ending)
            parser.receive_data(b"\r\n\r\n"[len(ending) :])
            self.assertIsInstance(parser.next_event(), Request)

    def test_a_line_past_the_limit_is_refused_at_once(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.line + b"a")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual(
            (error.status, error.detail), (414, "request lines are limited to 8192 bytes")
        )


class EarlyHeaderLimitTests(SynchronousTestCase):
    """The header limits judged before the head's blank line arrives."""

    first = b"GET / HTCPCP/1.1\r\n"

    def test_a_hundred_header_lines_wait_for_the_end(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.first + b"X: 1\r\n" * 100)
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"\r\n")
        self.assertIsInstance(parser.next_event(), Request)

    def test_the_hundred_and_first_line_is_refused_at_once(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.first + b"X: 1\r\n" * 101)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "more than 100 header lines"))

    def test_a_hundred_lines_too_large_together_are_too_large_not_too_many(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.first + (b"X: " + b"a" * 165 + b"\r\n") * 100)  # 17,000 bytes
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "the headers are too large"))

    def test_header_bytes_up_to_the_limit_and_a_line_end_wait(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.first + b"X: " + b"a" * 16384)  # 16 KiB and room for "\r\n\r"
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_header_bytes_past_the_limit_and_a_line_end_are_refused_at_once(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.first + b"X: " + b"a" * 16385)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "the headers are too large"))


class HostTests(SynchronousTestCase):
    def test_http11_origin_form_needs_a_host(self) -> None:
        for target in (b"/", b"*"):
            error = error_of(b"GET " + target + b" HTTP/1.1\r\n\r\n")
            self.assertEqual(
                (error.status, error.detail), (400, "an HTTP/1.1 request needs a Host header")
            )

    def test_absolute_form_needs_no_host(self) -> None:
        self.assertEqual(
            one_request(b"GET coffee://ducky HTTP/1.1\r\n\r\n").target, "coffee://ducky"
        )

    def test_other_versions_need_no_host(self) -> None:
        for version in (b"HTTP/1.0", b"HTCPCP/1.1", b"HTCPCP-TEA/1.0"):
            self.assertEqual(one_request(b"GET / " + version + b"\r\n\r\n").target, "/")

    def test_two_hosts(self) -> None:
        error = error_of(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        self.assertEqual((error.status, error.detail), (400, "more than one Host header"))

    def test_invalid_hosts(self) -> None:
        for host in (b"a b", b"a:123456", b"a:b", b"[::1", b"a/b", b"a@b"):
            self.assertEqual(
                error_of(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n").status, 400, host
            )

    def test_valid_hosts(self) -> None:
        for host in (
            b"ducky",
            b"ducky:5030",
            b"[::1]:80",
            b"127.0.0.1",
            b"xn--caf-dma.example",
            b"",
        ):
            request = one_request(b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
            self.assertEqual(request.headers["host"], host.decode(), host)


class ExpectTests(SynchronousTestCase):
    head = b"BREW coffee://ducky HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n"

    def test_a_request_awaiting_continue(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head)
        self.assertIs(parser.next_event(), NEED_DATA)
        waiting = parser.awaiting_continue
        assert waiting is not None
        self.assertEqual(waiting.method, "BREW")
        parser.receive_data(b"start")
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual((request.body, parser.awaiting_continue), (b"start", None))

    def test_chunked_request_awaiting_continue(self) -> None:
        parser = RequestParser()
        parser.receive_data(
            b"BREW coffee://ducky HTTP/1.1\r\nExpect: 100-continue\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertIsNotNone(parser.awaiting_continue)

    def test_http10_is_not_sent_continue(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head.replace(b"HTTP/1.1", b"HTTP/1.0"))
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertIsNone(parser.awaiting_continue)

    def test_no_continue_without_expect(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"BREW coffee://ducky HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertIsNone(parser.awaiting_continue)

    def test_no_continue_for_the_next_request(self) -> None:
        parser = RequestParser()
        parser.receive_data(
            self.head + b"start" + b"BREW coffee://ducky HTTP/1.1\r\nContent-Length: 4\r\n\r\n"
        )
        self.assertIsInstance(parser.next_event(), Request)
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertIsNone(parser.awaiting_continue)

    def test_no_continue_for_a_lengthless_request_after_one(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"start" + b"BREW coffee://ducky HTTP/1.1\r\n\r\nst")
        self.assertIsInstance(parser.next_event(), Request)
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertTrue(parser.awaiting_lengthless_body)
        self.assertIsNone(parser.awaiting_continue)

    def test_no_continue_for_a_bodiless_request(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET coffee://ducky HTTP/1.1\r\nExpect: 100-continue\r\n\r\n")
        self.assertIsInstance(parser.next_event(), Request)
        self.assertIsNone(parser.awaiting_continue)

    def test_other_expectations_fail(self) -> None:
        error = error_of(self.head.replace(b"100-Continue", b"gzip") + b"start")
        self.assertEqual(
            (error.status, error.detail),
            (417, "the only expectation this server meets is 100-continue"),
        )


class LengthlessBodyTests(SynchronousTestCase):
    head = b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: message/coffeepot\r\n\r\n"
    get = b"GET coffee://ducky HTTP/1.1\r\n\r\n"

    def bodies(self, *pieces: bytes) -> tuple[list[tuple[str, bytes]], object]:
        requests, ended = parse_pieces(list(pieces))
        return [(r.method, r.body) for r in requests], ended

    def test_a_pipelined_request_is_not_swallowed(self) -> None:
        self.assertEqual(
            self.bodies(self.head + self.get), ([("BREW", b""), ("GET", b"")], PEER_CLOSED)
        )

    def test_a_command_word_then_a_pipelined_request(self) -> None:
        self.assertEqual(
            self.bodies(self.head + b"stop\r\n" + self.get),
            ([("BREW", b"stop"), ("GET", b"")], PEER_CLOSED),
        )

    def test_a_command_word_in_any_case_with_blanks_before(self) -> None:
        self.assertEqual(self.bodies(self.head + b"\r\n\t START")[0], [("BREW", b"\r\n\t START")])

    def test_a_word_arriving_in_pieces(self) -> None:
        self.assertEqual(self.bodies(self.head, b"s", b"ta", b"rt")[0], [("BREW", b"start")])

    def test_part_of_a_word_at_end_of_input(self) -> None:
        self.assertEqual(self.bodies(self.head + b"sto"), ([("BREW", b"sto")], PEER_CLOSED))

    def test_nothing_at_end_of_input(self) -> None:
        self.assertEqual(self.bodies(self.head), ([("BREW", b"")], PEER_CLOSED))

    def test_bytes_that_are_no_command_are_the_next_request(self) -> None:
        requests, ended = parse_pieces([self.head + b"espresso\r\n\r\n"])
        self.assertEqual(([(r.method, r.body) for r in requests], ended), ([("BREW", b"")], 400))

    def test_only_blanks_and_line_ends_come_before_a_command_word(self) -> None:
        self.assertEqual(self.bodies(self.head + b"Xstart"), ([("BREW", b"")], 400))

    def test_the_start_of_a_pipelined_request_does_not_wait(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"GE")
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual((request.body, parser.awaiting_lengthless_body), (b"", False))
        self.assertEqual(self.bodies(self.head + b"GE"), ([("BREW", b"")], 400))

    def test_a_sized_body_is_not_lengthless(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"BREW coffee://ducky HTCPCP/1.1\r\nContent-Length: 5\r\n\r\nst")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertFalse(parser.awaiting_lengthless_body)
        parser.end_lengthless_body()
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_quiet_peer_ends_a_partial_word(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"st")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertTrue(parser.awaiting_lengthless_body)
        parser.end_lengthless_body()
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual((request.body, parser.awaiting_lengthless_body), (b"st", False))

    def test_quiet_time_does_not_carry_to_the_next_request(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"st")
        parser.next_event()
        parser.end_lengthless_body()
        self.assertIsInstance(parser.next_event(), Request)
        parser.receive_data(self.head + b"sto")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"p")
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual(request.body, b"stop")

    def test_quiet_before_a_lengthless_body_changes_nothing(self) -> None:
        parser = RequestParser()
        parser.end_lengthless_body()
        parser.receive_data(self.head + b"sto")
        self.assertIs(parser.next_event(), NEED_DATA)
