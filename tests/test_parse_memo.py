"""
Tests for the parsers' memo (L{ParseMemo}): one object given to a parser,
shared by those given the same, changing how fast they parse, never what
they say.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    DEFAULT_LIMITS,
    NEED_DATA,
    PEER_CLOSED,
    Limits,
    ParseMemo,
    ProtocolError,
    Request,
    RequestParser,
    ResponseParser,
)

from .test_parser_properties import PROPERTY_SETTINGS, split, streams

LAB_BREW = (
    b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/coffee-pot-command\r\n"
    b"Accept-Additions: Cream; Whisky\r\n\r\nstart"
)


def request_events(
    pieces: list[bytes], memo: ParseMemo, limits: Limits = DEFAULT_LIMITS
) -> list[object]:
    """Everything a request parser given C{memo} says of C{pieces}, then of end of input."""
    parser = RequestParser(limits, memo=memo)
    said: list[object] = []
    try:
        for piece in [*pieces, b""]:
            parser.receive_data(piece)
            while (event := parser.next_event()) is not NEED_DATA:
                said.append(event)
                if event is PEER_CLOSED:
                    return said
    except ProtocolError as error:
        said.append((error.status, error.detail, error.version))
    return said


def response_events(data: bytes, memo: ParseMemo) -> list[object]:
    """Everything a response parser given C{memo} says of C{data}, then of end of input."""
    parser = ResponseParser(memo=memo)
    said: list[object] = []
    try:
        for piece in (data, b""):
            parser.receive_data(piece)
            while (event := parser.next_event()) not in (NEED_DATA, PEER_CLOSED):
                said.append(event)
    except ProtocolError as error:
        said.append((error.status, error.detail, error.version))
    return said


class WarmAndColdTests(SynchronousTestCase):
    @PROPERTY_SETTINGS
    @given(streams, st.lists(st.integers(0, 400), max_size=8))
    def test_requests_read_the_same_with_the_memo_warm_or_cold(
        self, data: bytes, cuts: list[int]
    ) -> None:
        pieces = split(data, cuts)
        cold = request_events(pieces, ParseMemo())
        warm_memo = ParseMemo()
        request_events([data], warm_memo)
        self.assertEqual(request_events(pieces, warm_memo), cold)

    @PROPERTY_SETTINGS
    @given(
        st.sampled_from([b"HTCPCP/1.1", b"HTTP/1.0", b"HTTP/1.1"]),
        st.sampled_from([200, 406, 418]),
        st.lists(
            st.sampled_from(
                [
                    b"Content-Type: application/json",
                    b"Connection: close",
                    b"Safe: yes",
                    b"Bad Header",
                    b"X-Twice: a",
                ]
            ),
            max_size=4,
        ),
        st.binary(max_size=30),
    )
    def test_responses_read_the_same_with_the_memo_warm_or_cold(
        self, version: bytes, status: int, headers: list[bytes], body: bytes
    ) -> None:
        data = b"%s %d Whatever\r\n" % (version, status)
        data += b"".join(line + b"\r\n" for line in headers)
        data += b"Content-Length: %d\r\n\r\n" % len(body) + body
        cold = response_events(data, ParseMemo())
        warm_memo = ParseMemo()
        response_events(data, warm_memo)
        self.assertEqual(response_events(data, warm_memo), cold)

    def test_a_refused_line_is_refused_again_when_warm(self) -> None:
        memo = ParseMemo()
        folded = b"GET /pot-0 HTCPCP/1.1\r\nAccept: a\r\n  folded\r\n\r\n"
        first = request_events([folded], memo)
        self.assertEqual(first, [(400, "folded header lines are not accepted", "HTCPCP/1.1")])
        self.assertEqual(request_events([folded], memo), first)


class SharingTests(SynchronousTestCase):
    def test_parsers_given_one_memo_share_what_they_read(self) -> None:
        memo = ParseMemo()
        [first] = [e for e in request_events([LAB_BREW], memo) if isinstance(e, Request)]
        [second] = [e for e in request_events([LAB_BREW], memo) if isinstance(e, Request)]
        self.assertIs(second.headers, first.headers)
        self.assertEqual((first.method, first.body), ("BREW", b"start"))

    def test_parsers_given_no_memo_share_nothing(self) -> None:
        [first] = [e for e in request_events([LAB_BREW], ParseMemo()) if isinstance(e, Request)]
        [second] = [e for e in request_events([LAB_BREW], ParseMemo()) if isinstance(e, Request)]
        self.assertIsNot(second.headers, first.headers)
        self.assertEqual(second, first)

    def test_a_head_read_under_other_limits_is_read_again(self) -> None:
        memo = ParseMemo()
        data = b"BREW /pot-0 HTCPCP/1.1\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000
        self.assertIsInstance(request_events([data], memo, Limits(body=4096))[0], Request)
        self.assertEqual(
            request_events([data], memo, Limits(body=1024)),
            [(413, "bodies are limited to 1024 bytes", "HTCPCP/1.1")],
        )

    def test_a_response_parser_reads_into_its_own_memo(self) -> None:
        memo = ParseMemo()
        response_events(b"HTCPCP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", memo)
        self.assertEqual(dict(memo.header_lines), {b"Content-Length: 0": ("content-length", "0")})
        self.assertEqual((dict(memo.heads), dict(memo.request_lines)), ({}, {}))


class BoundTests(SynchronousTestCase):
    """
    The memo's documented bounds (docs/architecture.md): 1,024 entries a
    table, lines of up to 256 bytes and whole heads of up to 1 KiB.
    """

    def test_each_table_starts_over_after_1024_entries(self) -> None:
        memo = ParseMemo()
        data = b"".join(b"GET /%d HTCPCP/1.1\r\nX-N: %d\r\n\r\n" % (n, n) for n in range(1024))
        request_events([data], memo)
        sizes = (len(memo.request_lines), len(memo.header_lines), len(memo.heads))
        self.assertEqual(sizes, (1024, 1024, 1024))
        request_events([b"GET /1024 HTCPCP/1.1\r\nX-N: 1024\r\n\r\n"], memo)
        sizes = (len(memo.request_lines), len(memo.header_lines), len(memo.heads))
        self.assertEqual(sizes, (1, 1, 1))

    def test_request_lines_of_up_to_256_bytes_are_remembered(self) -> None:
        memo = ParseMemo()
        at_limit = b"GET /" + b"a" * 240 + b" HTCPCP/1.1"
        over = b"GET /" + b"b" * 241 + b" HTCPCP/1.1"
        self.assertEqual((len(at_limit), len(over)), (256, 257))
        request_events([at_limit + b"\n\n" + over + b"\n\n"], memo)
        self.assertEqual(list(memo.request_lines), [at_limit])

    def test_header_lines_of_up_to_256_bytes_are_remembered(self) -> None:
        memo = ParseMemo()
        at_limit = b"X-A: " + b"a" * 251
        over = b"X-B: " + b"b" * 252
        self.assertEqual((len(at_limit), len(over)), (256, 257))
        request_events([b"GET / HTCPCP/1.1\n" + at_limit + b"\n" + over + b"\n\n"], memo)
        self.assertEqual(list(memo.header_lines), [at_limit])

    def test_heads_of_up_to_1024_bytes_are_remembered(self) -> None:
        memo = ParseMemo()
        start = b"GET / HTCPCP/1.1\nX: "
        at_limit = start + b"a" * (1024 - len(start))
        over = start + b"b" * (1025 - len(start))
        self.assertEqual((len(at_limit), len(over)), (1024, 1025))
        request_events([at_limit + b"\n\n" + over + b"\n\n"], memo)
        self.assertEqual(list(memo.heads), [at_limit])


class MemoValueTests(SynchronousTestCase):
    def test_a_memo_keeps_its_tables(self) -> None:
        memo = ParseMemo()
        self.assertRaises(FrozenInstanceError, setattr, memo, "heads", {})

    def test_memos_are_told_apart_by_identity(self) -> None:
        first, second = ParseMemo(), ParseMemo()
        self.assertNotEqual(first, second)
        self.assertEqual(len({first, second, first}), 2)
