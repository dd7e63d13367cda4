"""
The request parser against a reference: h11, over the HTTP/1.1 subset.

For any stream of well-formed HTTP/1.1 requests (sized, chunked, or
bodiless methods without framing), split into segments anywhere, the
parser must give exactly the requests h11 reads from the whole stream:
the same methods, targets, headers (repeated ones joined) and bodies.
"""

from __future__ import annotations

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import PEER_CLOSED

from .helpers import parse_pieces

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
FRAMING_FIELDS = {"host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"}

header_names = st.text(TOKEN_CHARS, min_size=1, max_size=10).filter(
    lambda name: name.lower() not in FRAMING_FIELDS
)
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
targets = st.sampled_from(
    ["/", "/pot-0", "/pot-1/earl-grey?Cream", "coffee://ducky/pot-0", "tea://ducky/pot-1", "*"]
)
bodies = st.binary(max_size=300)

Summary = tuple[str, str, dict[str, str], bytes]


@st.composite
def http_request(draw: st.DrawFn) -> bytes:
    """One well-formed HTTP/1.1 request that h11 and the parser must read alike."""
    framing = draw(st.sampled_from(["length", "chunked", "none"]))
    methods = ["GET", "HEAD", "PROPFIND", "WHEN", "OPTIONS"]
    if framing != "none":
        methods += ["BREW", "POST"]
    method = draw(st.sampled_from(methods))
    fields = draw(st.lists(st.tuples(header_names, header_values), max_size=5))
    head = f"{method} {draw(targets)} HTTP/1.1\r\nHost: ducky\r\n".encode()
    head += b"".join(f"{name}: {value}\r\n".encode() for name, value in fields)
    if framing == "none":
        return head + b"\r\n"
    body = draw(bodies)
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    sizes = draw(st.lists(st.integers(1, 64), max_size=6))
    chunks, rest = [], body
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    coded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + coded + b"0\r\n\r\n"


def h11_reads(data: bytes) -> list[Summary]:
    """What h11, as a server, reads from the whole of C{data}."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    connection.receive_data(b"")
    found: list[Summary] = []
    body = b""
    while True:
        event = connection.next_event()
        if isinstance(event, h11.Request):
            fields: dict[str, str] = {}
            for raw_name, raw_value in event.headers:
                name, value = raw_name.decode("ascii"), raw_value.decode("latin-1")
                fields[name] = f"{fields[name]}, {value}" if name in fields else value
            request = (event.method.decode(), event.target.decode(), fields)
            body = b""
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            found.append((*request, body))
            connection.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            connection.send(h11.EndOfMessage())
            connection.start_next_cycle()
        elif isinstance(event, h11.ConnectionClosed):
            return found
        else:
            raise AssertionError(f"h11 stopped at {event!r}")


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]


class ReferenceTests(SynchronousTestCase):
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(http_request(), min_size=1, max_size=4), st.lists(st.integers(0, 2000)))
    def test_same_requests_as_h11_however_split(self, stream: list[bytes], cuts: list[int]) -> None:
        data = b"".join(stream)
        requests, ended = parse_pieces(split(data, cuts))
        ours = [(r.method, r.target, dict(r.headers), r.body) for r in requests]
        self.assertEqual((ours, ended), (h11_reads(data), PEER_CLOSED))

    def test_h11_is_a_working_oracle(self) -> None:
        """The reference reads joined fields and chunked bodies as the RFC says."""
        data = (
            b"BREW /pot-0 HTTP/1.1\r\nHost: ducky\r\nX: 1\r\nX: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nsta\r\n2\r\nrt\r\n0\r\n\r\n"
        )
        self.assertEqual(
            h11_reads(data),
            [
                (
                    "BREW",
                    "/pot-0",
                    {"host": "ducky", "x": "1, 2", "transfer-encoding": "chunked"},
                    b"start",
                )
            ],
        )
