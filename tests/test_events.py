"""
Tests for the wire core's values: the keep-alive rule, read the same way
from a request (by the server) and from a response (by the client), and
the sentinels.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import (
    NEED_DATA,
    PEER_CLOSED,
    NeedData,
    PeerClosed,
    RequestParser,
    Response,
    ResponseParser,
)

PERSISTENCE = [
    ("HTTP/1.1", None, True),
    ("HTTP/1.1", "close", False),
    ("HTTP/1.1", "Keep-Alive, CLOSE", False),
    ("HTTP/1.1", "keep-alive", True),
    ("HTCPCP/1.1", None, True),
    ("HTTP/1.0", None, False),
    ("HTTP/1.0", "keep-alive", True),
    ("HTTP/1.0", "close", False),
    ("HTCPCP/1.0", "Keep-Alive", True),
]
"""RFC 9112 section 9.3: (version, Connection header, whether the connection persists)."""


class KeepAliveTests(SynchronousTestCase):
    def test_a_response_says_whether_the_connection_persists(self) -> None:
        for version, connection, persists in PERSISTENCE:
            head = f"{version} 200 OK\r\nContent-Length: 0\r\n"
            if connection is not None:
                head += f"Connection: {connection}\r\n"
            parser = ResponseParser()
            parser.receive_data((head + "\r\n").encode())
            response = parser.next_event()
            assert isinstance(response, Response)
            self.assertEqual(
                (version, connection, response.keep_alive), (version, connection, persists)
            )

    def test_a_request_says_the_same(self) -> None:
        for version, connection, persists in PERSISTENCE:
            head = f"GET coffee://ducky/pot-0 {version}\r\n"
            if connection is not None:
                head += f"Connection: {connection}\r\n"
            parser = RequestParser()
            parser.receive_data((head + "\r\n").encode())
            request = parser.next_event()
            self.assertEqual(
                (version, connection, getattr(request, "keep_alive", None)),
                (version, connection, persists),
            )


class SentinelTests(SynchronousTestCase):
    def test_each_sentinel_is_the_one_member_of_its_type(self) -> None:
        self.assertEqual((list(NeedData), list(PeerClosed)), ([NEED_DATA], [PEER_CLOSED]))

    def test_sentinels_read_as_their_names(self) -> None:
        self.assertEqual((repr(NEED_DATA), repr(PEER_CLOSED)), ("NEED_DATA", "PEER_CLOSED"))
