"""Tests for how the request parser frames heads and bodies, and what it refuses."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    Limits,
    ProtocolError,
    Request,
    RequestParser,
    Response,
)
from htcpcp.message.chunked import ChunkedBody

from .helpers import parse_pieces


def one_request(data: bytes) -> Request:
    """The only request in C{data}, which must be followed by a clean end."""
    requests, ended = parse_pieces([data])
    assert ended is PEER_CLOSED, ended
    [request] = requests
    return request


def refusal(data: bytes) -> tuple[int, str]:
    """The status and detail of the error C{data} ends in."""
    parser = RequestParser()
    parser.receive_data(data)
    parser.receive_data(b"")
    try:
        while parser.next_event() is not PEER_CLOSED:
            pass
    except ProtocolError as error:
        return error.status, error.detail
    raise AssertionError(f"{data!r} was accepted")


class TransferCodingTests(SynchronousTestCase):
    def test_gzip_is_not_implemented(self) -> None:
        self.assertEqual(
            refusal(b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            (501, "only the chunked transfer coding is supported"),
        )

    def test_gzip_then_chunked_is_not_implemented(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
        self.assertEqual(refusal(data)[0], 501)

    def test_chunked_in_any_case_and_blanks(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n4\r\nstop\r\n0\r\n\r\n"
        self.assertEqual(one_request(data).body, b"stop")

    def test_smuggling_detail(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
        self.assertEqual(refusal(data), (400, "Content-Length and Transfer-Encoding together"))


class ContentLengthTests(SynchronousTestCase):
    def test_letters_are_not_a_length(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nContent-Length: abc\r\n\r\n"
        self.assertEqual(refusal(data), (400, "Content-Length is not a number"))

    def test_negative_is_not_a_length(self) -> None:
        self.assertEqual(refusal(b"BREW / HTCPCP/1.1\r\nContent-Length: -1\r\n\r\n")[0], 400)

    def test_non_ascii_digits_are_not_a_length(self) -> None:
        data = "BREW / HTCPCP/1.1\r\nContent-Length: \u0665\r\n\r\n".encode("latin-1", "replace")
        self.assertEqual(refusal(data)[0], 400)
        arabic_five = b"BREW / HTCPCP/1.1\r\nContent-Length: \xd9\xa5\r\n\r\n"
        self.assertEqual(refusal(arabic_five)[0], 400)

    def test_blanks_around_the_length(self) -> None:
        self.assertEqual(
            one_request(b"BREW / HTCPCP/1.1\r\nContent-Length:  5 \r\n\r\nstart").body, b"start"
        )

    def test_zero_length_body(self) -> None:
        request = one_request(b"BREW / HTCPCP/1.1\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual((request.body, request.lengthless_body), (b"", False))

    def test_the_same_length_twice_is_one_length(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nstart"
        request = one_request(data)
        self.assertEqual((request.body, request.headers["content-length"]), (b"start", "5"))

    def test_conflicting_lengths_detail(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\nContent-Length: 4\r\n\r\n"
        self.assertEqual(refusal(data), (400, "conflicting Content-Length headers"))

    def test_end_of_input_inside_the_body(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\n\r\nsta"
        self.assertEqual(refusal(data), (400, "the request ended inside its body"))

    def test_body_waits_for_its_last_byte(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\n\r\nstar")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertEqual(parser.buffered, 4)
        parser.receive_data(b"tGET")
        request = parser.next_event()
        assert isinstance(request, Request)
        self.assertEqual((request.body, parser.buffered), (b"start", 3))

    def test_body_bytes_are_not_read_as_the_next_request(self) -> None:
        data = b"BREW / HTCPCP/1.1\r\nContent-Length: 20\r\n\r\nGET / HTCPCP/1.1\r\n\r\n"
        self.assertEqual(one_request(data).body, b"GET / HTCPCP/1.1\r\n\r\n")


class ChunkedBodyTests(SynchronousTestCase):
    head = b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"

    def test_end_of_input_inside_a_chunk(self) -> None:
        self.assertEqual(
            refusal(self.head + b"5\r\nsta"), (400, "the request ended inside its body")
        )

    def test_end_of_input_before_the_last_chunk(self) -> None:
        self.assertEqual(refusal(self.head + b"5\r\nstart\r\n")[0], 400)

    def test_end_of_input_inside_the_trailers(self) -> None:
        self.assertEqual(refusal(self.head + b"0\r\nX: y\r\n")[0], 400)

    def test_chunk_data_must_end_with_a_line_end(self) -> None:
        data = self.head + b"5\r\nstartX\r\n0\r\n\r\n"
        self.assertEqual(refusal(data), (400, "chunk data does not end with CRLF"))

    def test_malformed_chunk_size(self) -> None:
        self.assertEqual(refusal(self.head + b"zz\r\n"), (400, "malformed chunk size"))
        self.assertEqual(refusal(self.head + b"\r\n")[0], 400)

    def test_chunk_size_with_leading_zeros(self) -> None:
        data = self.head + b"0000000000000000000004\r\nstop\r\n0\r\n\r\n"
        self.assertEqual(one_request(data).body, b"stop")

    def test_chunk_size_of_seventeen_hex_digits(self) -> None:
        self.assertEqual(
            refusal(self.head + b"1" + b"0" * 16 + b"\r\n"),
            (413, "bodies are limited to 1024 bytes"),
        )

    def test_chunk_size_of_sixteen_hex_digits_past_the_limit(self) -> None:
        self.assertEqual(refusal(self.head + b"0000000000000401\r\n")[0], 413)

    def test_chunk_size_of_sixteen_significant_digits_under_a_larger_limit(self) -> None:
        parser = RequestParser(Limits(body=16**16))
        parser.receive_data(self.head + b"1" + b"0" * 15 + b"\r\nstart")
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_chunk_size_of_seventeen_significant_digits_whatever_the_limit(self) -> None:
        parser = RequestParser(Limits(body=16**17))
        parser.receive_data(self.head + b"1" + b"0" * 16 + b"\r\nstart")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual(error.status, 413)

    def test_chunk_size_at_the_limit(self) -> None:
        data = self.head + b"0000000000000400\r\n" + b"s" * 1024 + b"\r\n0\r\n\r\n"
        self.assertEqual(len(one_request(data).body), 1024)

    def test_upper_case_hex_and_blanks_before_an_extension(self) -> None:
        data = self.head + b"A \t;name=value\r\n0123456789\r\n0\r\n\r\n"
        self.assertEqual(one_request(data).body, b"0123456789")

    def test_bare_lf_line_ends(self) -> None:
        data = b"BREW / HTCPCP/1.1\nTransfer-Encoding: chunked\n\n3\nsta\n2\nrt\n0\n\n"
        self.assertEqual(one_request(data).body, b"start")

    def test_chunk_line_of_256_bytes_is_read(self) -> None:
        line = b"4;" + b"x" * 254
        self.assertEqual(len(line), 256)
        self.assertEqual(one_request(self.head + line + b"\r\nstop\r\n0\r\n\r\n").body, b"stop")

    def test_chunk_line_of_257_bytes_is_refused(self) -> None:
        line = b"4;" + b"x" * 255
        self.assertEqual(
            refusal(self.head + line + b"\r\nstop\r\n0\r\n\r\n"),
            (400, "chunk size line too long"),
        )

    def test_chunk_line_too_long_before_its_end_arrives(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"4;" + b"x" * 255)
        self.assertEqual(self.assertRaises(ProtocolError, parser.next_event).status, 400)

    def test_chunk_line_of_256_bytes_waits_for_its_end(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"4;" + b"x" * 254 + b"\r")
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_trailers_are_dropped(self) -> None:
        request = one_request(self.head + b"4\r\nstop\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n")
        self.assertEqual(
            (request.body, dict(request.headers)), (b"stop", {"transfer-encoding": "chunked"})
        )

    def test_trailer_lines_up_to_the_header_count(self) -> None:
        trailers = b"".join(b"T%d: 1\r\n" % i for i in range(100))
        self.assertEqual(one_request(self.head + b"0\r\n" + trailers + b"\r\n").body, b"")
        self.assertEqual(
            refusal(self.head + b"0\r\n" + trailers + b"T: 1\r\n\r\n"),
            (431, "more than 100 trailer lines"),
        )

    def test_trailers_up_to_the_header_bytes(self) -> None:
        limits = Limits(header_bytes=40)
        fits = self.head + b"0\r\nT: 12345678\r\nU: " + b"u" * 22 + b"\r\n\r\n"
        self.assertEqual(len(parse_pieces([fits], limits)[0]), 1)
        over = self.head + b"0\r\nT: 12345678\r\nU: " + b"u" * 23 + b"\r\n\r\n"
        parser = RequestParser(limits)
        parser.receive_data(over)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "the trailers are too large"))

    def test_trailer_line_up_to_the_header_line(self) -> None:
        limits = Limits(header_line=30)
        at_limit = self.head + b"0\r\nT: " + b"t" * 27 + b"\r\n\r\n"
        self.assertEqual(len(parse_pieces([at_limit], limits)[0]), 1)
        parser = RequestParser(limits)
        parser.receive_data(self.head + b"0\r\nT: " + b"t" * 28)
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "a trailer line is too long"))

    def test_trailer_line_at_the_limit_waits_for_its_end(self) -> None:
        parser = RequestParser(Limits(header_line=30))
        parser.receive_data(self.head + b"0\r\nT: " + b"t" * 27 + b"\r")
        self.assertIs(parser.next_event(), NEED_DATA)

    def test_megabyte_of_trailers_is_refused_as_it_arrives(self) -> None:
        parser = RequestParser()
        parser.receive_data(self.head + b"0\r\n")
        self.assertIs(parser.next_event(), NEED_DATA)
        for _ in range(1000):
            parser.receive_data(b"T: " + b"x" * 1000 + b"\r\n")
            try:
                self.assertIs(parser.next_event(), NEED_DATA)
            except ProtocolError as error:
                self.assertEqual(error.status, 431)
                break
        self.assertLess(parser.buffered, 2000)

    def test_chunks_add_up_to_the_body_limit(self) -> None:
        chunk = b"200\r\n" + b"s" * 512 + b"\r\n"
        self.assertEqual(len(one_request(self.head + chunk * 2 + b"0\r\n\r\n").body), 1024)
        self.assertEqual(
            refusal(self.head + chunk * 2 + b"1\r\ns\r\n0\r\n\r\n"),
            (413, "bodies are limited to 1024 bytes"),
        )

    def test_bare_lf_after_chunk_data_then_a_long_request(self) -> None:
        long_get = b"GET /" + b"a" * 300 + b" HTCPCP/1.1\n\n"
        data = b"BREW / HTCPCP/1.1\nTransfer-Encoding: chunked\n\n4\nstop\n0\n\n" + long_get
        requests, ended = parse_pieces([data])
        self.assertEqual(
            ([(r.method, r.body) for r in requests], ended),
            ([("BREW", b"stop"), ("GET", b"")], PEER_CLOSED),
        )

    def test_request_after_a_chunked_body(self) -> None:
        data = self.head + b"4\r\nstop\r\n0\r\n\r\nGET /pot-1 HTCPCP/1.1\r\n\r\n"
        requests, ended = parse_pieces([data])
        self.assertEqual(
            ([(r.method, r.body) for r in requests], ended),
            ([("BREW", b"stop"), ("GET", b"")], PEER_CLOSED),
        )


class ChunkedDecoderTests(SynchronousTestCase):
    """The decoder itself, as the request reader and the response reader use it."""

    def test_raw_bytes_are_kept_only_when_asked_for(self) -> None:
        data = b"4\r\nstop\r\n0\r\n\r\n"
        plain = ChunkedBody(Limits(), "HTCPCP/1.1")
        self.assertTrue(plain.feed(bytearray(data)))
        self.assertIsNone(plain.raw)
        kept = ChunkedBody(Limits(), "HTCPCP/1.1", keep_raw=True)
        self.assertTrue(kept.feed(bytearray(data)))
        self.assertEqual((kept.body, kept.raw), (b"stop", data))

    def test_incomplete_until_the_last_chunk(self) -> None:
        decoder = ChunkedBody(Limits(), "HTCPCP/1.1")
        self.assertIs(decoder.feed(bytearray(b"4")), False)
        self.assertIs(decoder.feed(bytearray(b"4\r\nst")), False)
        self.assertIs(decoder.feed(bytearray(b"op\r\n0\r\n\r\n")), True)
        self.assertEqual(decoder.body, b"stop")


class HeaderFieldTests(SynchronousTestCase):
    def test_repeated_header_lines_are_joined(self) -> None:
        request = one_request(b"GET / HTCPCP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-A: 3\r\n\r\n")
        self.assertEqual(dict(request.headers), {"x-a": "1, 2, 3"})

    def test_names_are_lower_case_and_values_trimmed(self) -> None:
        request = one_request(b"GET / HTCPCP/1.1\r\nAccept-ADDITIONS: \t Cream \t\r\n\r\n")
        self.assertEqual(dict(request.headers), {"accept-additions": "Cream"})

    def test_empty_value(self) -> None:
        self.assertEqual(dict(one_request(b"GET / HTCPCP/1.1\r\nX:\r\n\r\n").headers), {"x": ""})

    def test_tab_inside_a_value_is_kept(self) -> None:
        request = one_request(b"GET / HTCPCP/1.1\r\nX: a\tb\r\n\r\n")
        self.assertEqual(request.headers["x"], "a\tb")

    def test_latin1_value(self) -> None:
        request = one_request(b"GET / HTCPCP/1.1\r\nX: caf\xe9\r\n\r\n")
        self.assertEqual(request.headers["x"], "caf\xe9")

    def test_space_before_the_colon(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/1.1\r\nX : a\r\n\r\n"), (400, "malformed header line")
        )

    def test_no_colon(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/1.1\r\nX a\r\n\r\n"), (400, "malformed header line")
        )

    def test_empty_name(self) -> None:
        self.assertEqual(refusal(b"GET / HTCPCP/1.1\r\n: a\r\n\r\n")[0], 400)

    def test_folded_line_detail(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/1.1\r\nX: a\r\n\tb\r\n\r\n"),
            (400, "folded header lines are not accepted"),
        )

    def test_control_characters_in_a_value(self) -> None:
        for byte in (b"\x00", b"\x08", b"\x0b", b"\x1f", b"\x7f", b"\r"):
            data = b"GET / HTCPCP/1.1\r\nX: a" + byte + b"b\r\n\r\n"
            self.assertEqual(refusal(data), (400, "control character in a header value"), byte)

    def test_cr_before_lf_is_a_line_end(self) -> None:
        request = one_request(b"GET / HTCPCP/1.1\r\nX: a\r\nY: b\n\r\n")
        self.assertEqual(dict(request.headers), {"x": "a", "y": "b"})

    def test_long_header_lines_are_read_each_time(self) -> None:
        """Lines too long to be remembered are still parsed right, again and again."""
        value = b"v" * 300
        data = b"GET / HTCPCP/1.1\r\nX-Long: " + value + b"\r\n\r\n"
        for _ in range(2):
            self.assertEqual(one_request(data).headers["x-long"], value.decode())


class RequestLineTests(SynchronousTestCase):
    def test_two_spaces(self) -> None:
        self.assertEqual(
            refusal(b"GET  / HTCPCP/1.1\r\n\r\n"),
            (400, "the request line must be: METHOD target version"),
        )

    def test_trailing_space(self) -> None:
        self.assertEqual(refusal(b"GET / HTCPCP/1.1 \r\n\r\n")[0], 400)

    def test_method_not_a_token(self) -> None:
        self.assertEqual(refusal(b"G(T / HTCPCP/1.1\r\n\r\n"), (400, "the method is not a token"))

    def test_unknown_token_method_is_read(self) -> None:
        self.assertEqual(one_request(b"STEEP / HTCPCP/1.1\r\n\r\n").method, "STEEP")

    def test_version_missing(self) -> None:
        self.assertEqual(
            refusal(b"GET / FOO\r\n\r\n"),
            (400, "the request line must end with a protocol version"),
        )

    def test_unknown_version_detail(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/2.0\r\n\r\n"),
            (505, "this server speaks HTCPCP/1.0, HTCPCP/1.1 and HTTP/1.x"),
        )

    def test_control_character_in_the_target(self) -> None:
        self.assertEqual(
            refusal(b"GET /\x01 HTCPCP/1.1\r\n\r\n"), (400, "the request target is malformed")
        )

    def test_every_version_is_read(self) -> None:
        for version in ("HTCPCP/1.0", "HTCPCP/1.1", "HTCPCP-TEA/1.0", "HTTP/1.0", "HTTP/1.1"):
            request = one_request(f"GET / {version}\r\nHost: ducky\r\n\r\n".encode())
            self.assertEqual(request.version, version)

    def test_target_bytes_that_are_not_utf8(self) -> None:
        self.assertEqual(one_request(b"GET /caf\xe9 HTCPCP/1.1\r\n\r\n").target, "/caf\udce9")

    def test_utf8_target(self) -> None:
        self.assertEqual(
            one_request("GET кофе://ducky HTCPCP/1.1\r\n\r\n".encode()).target, "кофе://ducky"
        )

    def test_error_carries_the_request_version(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/1.0\r\nX a\r\n\r\n")
        self.assertEqual(self.assertRaises(ProtocolError, parser.next_event).version, "HTTP/1.0")

    def test_error_before_the_version_is_known(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET  / HTTP/1.0\r\n\r\n")
        self.assertEqual(self.assertRaises(ProtocolError, parser.next_event).version, "HTCPCP/1.1")


class LineEndTests(SynchronousTestCase):
    def test_line_ends_before_a_request_are_skipped(self) -> None:
        self.assertEqual(one_request(b"\r\n\n\r\nGET /pot-1 HTCPCP/1.1\r\n\r\n").target, "/pot-1")

    def test_line_ends_between_pipelined_requests_are_skipped(self) -> None:
        requests, ended = parse_pieces(
            [
                b"GET /a HTCPCP/1.1\r\n\r\n\r\n\r\n"
                b"GET /b HTCPCP/1.1\r\n\r\n\n"
                b"GET /c HTCPCP/1.1\r\n\r\n"
            ]
        )
        self.assertEqual(([r.target for r in requests], ended), (["/a", "/b", "/c"], PEER_CLOSED))

    def test_only_blanks_are_skipped_before_a_request(self) -> None:
        self.assertEqual(one_request(b" \t\r\nXGET / HTCPCP/1.1\r\n\r\n").method, "XGET")

    def test_line_ends_alone_then_end_of_input(self) -> None:
        self.assertEqual(parse_pieces([b"\r\n\r\n"]), ([], PEER_CLOSED))

    def test_line_ends_arriving_apart_from_the_request(self) -> None:
        requests, ended = parse_pieces([b"\r\n", b"\r", b"\nGET /x HTCPCP/1.1\r", b"\n\r\n"])
        self.assertEqual(([r.target for r in requests], ended), (["/x"], PEER_CLOSED))

    def test_idle_until_a_request_starts(self) -> None:
        parser = RequestParser()
        self.assertTrue(parser.idle)
        parser.receive_data(b"G")
        self.assertFalse(parser.idle)

    def test_head_in_progress_ignores_line_ends(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"\r\n")
        self.assertFalse(parser.head_in_progress)

    def test_end_of_input_inside_the_head(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/1.1\r\nX: a"), (400, "the request ended before its head did")
        )


class ConnectionTests(SynchronousTestCase):
    def keep_alive(self, version: bytes, connection: bytes | None) -> bool:
        header = b"" if connection is None else b"Connection: " + connection + b"\r\n"
        head = b"GET / " + version + b"\r\nHost: ducky\r\n" + header + b"\r\n"
        return one_request(head).keep_alive

    def test_http11_keeps_alive_by_default(self) -> None:
        self.assertTrue(self.keep_alive(b"HTTP/1.1", None))
        self.assertTrue(self.keep_alive(b"HTCPCP/1.1", None))

    def test_http10_closes_by_default(self) -> None:
        self.assertFalse(self.keep_alive(b"HTTP/1.0", None))
        self.assertFalse(self.keep_alive(b"HTCPCP/1.0", None))

    def test_http10_with_a_connection_other_than_keep_alive_closes(self) -> None:
        self.assertFalse(self.keep_alive(b"HTTP/1.0", b"upgrade"))
        self.assertFalse(self.keep_alive(b"HTCPCP/1.0", b"close"))

    def test_http10_keep_alive_in_any_case_among_tokens(self) -> None:
        self.assertTrue(self.keep_alive(b"HTCPCP/1.0", b"TE, Keep-Alive"))

    def test_http11_close_in_any_case_among_tokens(self) -> None:
        self.assertFalse(self.keep_alive(b"HTTP/1.1", b"keep-alive , CLOSE"))

    def test_http11_other_tokens_keep_alive(self) -> None:
        self.assertTrue(self.keep_alive(b"HTTP/1.1", b"upgrade"))

    def test_nothing_is_read_after_a_closing_request(self) -> None:
        parser = RequestParser()
        parser.receive_data(b"GET / HTTP/1.0\r\n\r\nGET /b HTCPCP/1.1\r\n\r\n")
        self.assertIsInstance(parser.next_event(), Request)
        self.assertEqual((parser.next_event(), parser.buffered), (NEED_DATA, 0))
        parser.receive_data(b"GET /c HTCPCP/1.1\r\n\r\n")
        self.assertEqual((parser.next_event(), parser.buffered), (NEED_DATA, 0))
        parser.receive_data(b"")
        self.assertIs(parser.next_event(), PEER_CLOSED)


class EventValueTests(SynchronousTestCase):
    def test_sentinels_name_themselves(self) -> None:
        self.assertEqual((repr(NEED_DATA), repr(PEER_CLOSED)), ("NEED_DATA", "PEER_CLOSED"))

    def test_request_defaults(self) -> None:
        request = Request("GET", "/", "HTTP/1.1", {})
        self.assertEqual(
            (request.body, request.keep_alive, request.lengthless_body), (b"", True, False)
        )


class LengthlessMethodTests(SynchronousTestCase):
    def test_post_without_a_length_has_a_lengthless_body(self) -> None:
        request = one_request(b"POST / HTCPCP/1.1\r\n\r\nstart")
        self.assertEqual((request.body, request.lengthless_body), (b"start", True))

    def test_other_methods_without_a_length_have_no_body(self) -> None:
        for method in (b"GET", b"HEAD", b"PROPFIND", b"WHEN", b"OPTIONS", b"STEEP"):
            request = one_request(method + b" / HTCPCP/1.1\r\n\r\n")
            self.assertEqual((request.body, request.lengthless_body), (b"", False), method)


class HeaderSizeDetailTests(SynchronousTestCase):
    """A whole head arriving at once is judged line by line, with a detail for each limit."""

    def test_too_many_lines(self) -> None:
        data = b"GET / HTCPCP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n"
        self.assertEqual(refusal(data), (431, "more than 100 header lines"))

    def test_too_large_together(self) -> None:
        data = b"GET / HTCPCP/1.1\r\n" + (b"X: " + b"a" * 997 + b"\r\n") * 17 + b"\r\n"
        self.assertEqual(refusal(data), (431, "the headers are too large"))

    def test_one_line_too_long(self) -> None:
        parser = RequestParser(Limits(header_line=10))
        parser.receive_data(b"GET / HTCPCP/1.1\r\nX: 12345678\r\n\r\n")
        error = self.assertRaises(ProtocolError, parser.next_event)
        self.assertEqual((error.status, error.detail), (431, "a header line is too long"))

    def test_line_end_is_not_counted_in_a_line(self) -> None:
        head = b"GET / HTCPCP/1.1\r\nX: 123456X\r\n\r\n"
        parser = RequestParser(Limits(header_line=10))
        parser.receive_data(head)
        self.assertIsInstance(parser.next_event(), Request)
        parser = RequestParser(Limits(header_line=9))
        parser.receive_data(head)
        self.assertEqual(self.assertRaises(ProtocolError, parser.next_event).status, 431)

    def test_folded_with_a_space(self) -> None:
        self.assertEqual(
            refusal(b"GET / HTCPCP/1.1\r\nX: a\r\n b\r\n\r\n"),
            (400, "folded header lines are not accepted"),
        )


class ErrorValueTests(SynchronousTestCase):
    def test_protocol_error_arguments(self) -> None:
        error = ProtocolError(431, "too large")
        self.assertEqual(
            (error.args, error.status, error.detail, error.version),
            ((431, "too large"), 431, "too large", "HTCPCP/1.1"),
        )

    def test_protocol_error_arguments_leave_out_the_version(self) -> None:
        error = ProtocolError(505, "unsupported", "HTTP/1.0")
        self.assertEqual((error.args, error.version), ((505, "unsupported"), "HTTP/1.0"))

    def test_response_repr_leaves_out_the_raw_bytes(self) -> None:
        response = Response("HTCPCP/1.1", 200, "OK", {}, b"{}", b"HTCPCP/1.1 200 OK\r\n\r\n{}")
        self.assertNotIn("raw", repr(response))
        self.assertIn("body=b'{}'", repr(response))
