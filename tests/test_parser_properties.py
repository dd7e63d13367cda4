"""
Property tests of the sans-IO request parser (Hypothesis).

The parser must give the same events whatever the segmentation, raise
nothing but L{ProtocolError}, round-trip every valid request, and hold every
limit exactly at its boundary.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    VERSIONS,
    Limits,
    ProtocolError,
    RequestParser,
    serialize_request,
)
from htcpcp.urls import COFFEE_SCHEMES

from .helpers import parse_pieces

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
    str.strip
)
targets = st.one_of(
    st.sampled_from(["/", "/pot-0", "/pot-1/earl-grey", "/log?page=2", "*"]),
    st.builds(
        lambda scheme, pot: f"{scheme}://ducky/pot-{pot}",
        st.sampled_from(COFFEE_SCHEMES),
        st.integers(0, 3),
    ),
)
methods = st.one_of(st.sampled_from(["BREW", "POST", "GET", "HEAD", "PROPFIND", "WHEN"]), tokens)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One request: valid, or slightly off, in any of the framings."""
    method = draw(methods)
    version = draw(st.sampled_from([*VERSIONS.values(), "HTCPCP/2.0"]))
    headers = draw(st.lists(st.tuples(tokens, header_values), max_size=4))
    framing = draw(st.sampled_from(["length", "chunked", "none"]))
    body = draw(st.sampled_from([b"", b"start", b"stop", b" STOP ", b"espresso"]))
    head = f"{method} {draw(targets)} {version}\r\n".encode()
    head += b"".join(f"{name}: {value}\r\n".encode() for name, value in headers)
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    if framing == "chunked" and body:
        return head + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    ending = draw(st.sampled_from([b"", b"\r\n", b"\n"]))
    return head + b"\r\n" + body + ending


streams = st.one_of(
    st.binary(max_size=200),
    st.lists(requests(), min_size=1, max_size=4).map(b"".join),
    st.tuples(st.lists(requests(), max_size=3).map(b"".join), st.binary(max_size=40)).map(b"".join),
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]


class SegmentationTests(SynchronousTestCase):
    @PROPERTY_SETTINGS
    @given(streams, st.lists(st.integers(0, 400), max_size=12))
    def test_any_split_gives_the_same_events(self, data: bytes, cuts: list[int]) -> None:
        self.assertEqual(parse_pieces(split(data, cuts)), parse_pieces([data]))

    @PROPERTY_SETTINGS
    @given(streams)
    def test_byte_by_byte_gives_the_same_events(self, data: bytes) -> None:
        self.assertEqual(
            parse_pieces([data[i : i + 1] for i in range(len(data))]), parse_pieces([data])
        )

    @PROPERTY_SETTINGS
    @given(st.binary(max_size=2000))
    def test_only_typed_errors(self, data: bytes) -> None:
        parser = RequestParser()
        parser.receive_data(data)
        parser.receive_data(b"")
        try:
            while parser.next_event() is not PEER_CLOSED:
                pass
        except ProtocolError as error:
            self.assertIn(error.status, {400, 408, 413, 414, 417, 431, 501, 505})


class RoundTripTests(SynchronousTestCase):
    @PROPERTY_SETTINGS
    @given(
        st.sampled_from(["BREW", "POST", "GET", "WHEN", "PROPFIND", "OPTIONS"]),
        targets,
        st.sampled_from(list(VERSIONS.values())),
        st.dictionaries(tokens.map(str.lower), header_values, max_size=6).map(
            lambda h: {
                k: v
                for k, v in h.items()
                if k not in ("content-length", "transfer-encoding", "connection", "host", "expect")
            }
        ),
        st.binary(max_size=1024),
    )
    def test_serialize_then_parse(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes
    ) -> None:
        headers["host"] = "ducky"
        raw = serialize_request(method, target, list(headers.items()), body, version)
        [request], ended = parse_pieces([raw])
        self.assertEqual(
            (request.method, request.target, request.version, request.body),
            (method, target, version, body),
        )
        expected = dict(headers)
        if body:
            expected["content-length"] = str(len(body))
        self.assertEqual(dict(request.headers), expected)
        self.assertEqual(ended, PEER_CLOSED)


REQUEST_LINE_LIMIT = 8 * 1024
HEADER_LINE_LIMIT = 16 * 1024
HEADER_BYTES_LIMIT = 16 * 1024
HEADER_COUNT_LIMIT = 100
BODY_LIMIT = 1024
"""The documented limits (docs/protocol.md), written out rather than read from L{Limits}."""


class BoundaryTests(SynchronousTestCase):
    """Every limit holds exactly at its boundary, and one past it gets its own status."""

    def assertBoundary(self, make: Callable[[int], bytes], at: int, status: int) -> None:
        requests, ended = parse_pieces([make(at)])
        self.assertEqual((len(requests), ended), (1, PEER_CLOSED), at)
        requests, ended = parse_pieces([make(at + 1)])
        self.assertEqual((requests, ended), ([], status), at + 1)

    def test_documented_defaults(self) -> None:
        self.assertEqual(
            Limits(),
            Limits(
                request_line=REQUEST_LINE_LIMIT,
                header_line=HEADER_LINE_LIMIT,
                header_bytes=HEADER_BYTES_LIMIT,
                header_count=HEADER_COUNT_LIMIT,
                body=BODY_LIMIT,
            ),
        )

    def test_request_line(self) -> None:
        self.assertBoundary(request_line_of, REQUEST_LINE_LIMIT, 414)

    def test_header_line_and_total(self) -> None:
        self.assertBoundary(header_line_of, HEADER_LINE_LIMIT, 431)

    def test_header_total_over_several_lines(self) -> None:
        self.assertBoundary(headers_totalling, HEADER_BYTES_LIMIT, 431)

    def test_header_count(self) -> None:
        self.assertBoundary(header_lines, HEADER_COUNT_LIMIT, 431)

    def test_body_with_length(self) -> None:
        def make(size: int) -> bytes:
            return b"BREW / HTCPCP/1.1\r\nContent-Length: %d\r\n\r\n" % size + b"s" * size

        self.assertBoundary(make, BODY_LIMIT, 413)

    def test_chunked_body(self) -> None:
        def make(size: int) -> bytes:
            return (
                b"BREW / HTCPCP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % size
                + b"s" * size
                + b"\r\n0\r\n\r\n"
            )

        self.assertBoundary(make, BODY_LIMIT, 413)

    def test_tighter_limits_are_obeyed(self) -> None:
        limits = Limits(request_line=20, header_line=18, header_bytes=30, header_count=3, body=4)
        cases = [
            (b"GET /" + b"a" * 7 + b" HTCPCP/1.1\r\n\r\n", 414),
            (b"GET / HTCPCP/1.1\r\nX: " + b"a" * 16 + b"\r\n\r\n", 431),
            (b"GET / HTCPCP/1.1\r\n" + b"X: aaaaaaa\r\n" * 3 + b"Y: 1\r\n\r\n", 431),
            (b"GET / HTCPCP/1.1\r\n" + b"X: 1\r\n" * 4 + b"\r\n", 431),
            (b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\n\r\nstart", 413),
        ]
        for data, status in cases:
            self.assertEqual(parse_pieces([data], limits), ([], status), data)


def request_line_of(size: int) -> bytes:
    """A GET whose request line (without its line end) is C{size} bytes."""
    return b"GET /" + b"a" * (size - len(b"GET / HTCPCP/1.1")) + b" HTCPCP/1.1\r\n\r\n"


def header_line_of(size: int) -> bytes:
    """A GET with one header line of C{size} bytes."""
    return b"GET / HTCPCP/1.1\r\nX: " + b"a" * (size - 3) + b"\r\n\r\n"


def headers_totalling(size: int) -> bytes:
    """A GET with 16 header lines of C{size} bytes together (LFs between them counted)."""
    lines = [b"X-%02d: " % i + b"a" * 994 for i in range(16)]
    joined = b"\n".join(lines)
    lines[-1] += b"a" * (size - len(joined))
    return b"GET / HTCPCP/1.1\r\n" + b"\n".join(lines) + b"\r\n\r\n"


def header_lines(count: int) -> bytes:
    """A GET with C{count} header lines."""
    return b"GET / HTCPCP/1.1\r\n" + b"".join(b"X%d: 1\r\n" % i for i in range(count)) + b"\r\n"


OVER_LIMIT_HEADS = [
    (request_line_of(REQUEST_LINE_LIMIT + 1), 414),
    (header_line_of(HEADER_LINE_LIMIT + 1), 431),
    (headers_totalling(HEADER_BYTES_LIMIT + 1), 431),
    (header_lines(HEADER_COUNT_LIMIT + 1), 431),
]
"""Heads one past a limit, each with the status it must get."""


class IncompleteHeadTests(SynchronousTestCase):
    """A head certain to break a limit is refused before it ends, however it is split."""

    @PROPERTY_SETTINGS
    @given(st.sampled_from(OVER_LIMIT_HEADS), st.lists(st.integers(0, 40_000), max_size=8))
    def test_refused_before_the_head_ends(self, case: tuple[bytes, int], cuts: list[int]) -> None:
        head, status = case
        incomplete = head[: -len(b"\r\n\r\n")] + b"\r\n" * (status == 431) + b"X"
        parser = RequestParser()
        refused = None
        for piece in split(incomplete, cuts):
            parser.receive_data(piece)
            try:
                self.assertIs(parser.next_event(), NEED_DATA)
            except ProtocolError as error:
                refused = error.status
                break
        self.assertEqual(refused, status)

    @PROPERTY_SETTINGS
    @given(
        st.sampled_from(
            [
                request_line_of(REQUEST_LINE_LIMIT),
                header_line_of(HEADER_LINE_LIMIT),
                headers_totalling(HEADER_BYTES_LIMIT),
                header_lines(HEADER_COUNT_LIMIT),
            ]
        ),
        st.lists(st.integers(0, 40_000), max_size=8),
    )
    def test_heads_at_a_limit_are_never_refused_early(self, head: bytes, cuts: list[int]) -> None:
        requests, ended = parse_pieces(split(head, cuts))
        self.assertEqual((len(requests), ended), (1, PEER_CLOSED))
