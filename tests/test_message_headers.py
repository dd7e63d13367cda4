"""Tests for the head readers' shared rules (L{htcpcp.message.headers}), called directly."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.message import ProtocolError
from htcpcp.message.headers import check_expect, check_host, find_head_end


class FindHeadEndTests(SynchronousTestCase):
    def test_searched_from_the_start_by_default(self) -> None:
        self.assertEqual(find_head_end(bytearray(b"\n\nGET")), (0, 2))

    def test_crlf_blank_line_starts_at_its_cr(self) -> None:
        self.assertEqual(find_head_end(bytearray(b"GET / HTCPCP/1.1\r\n\r\nX")), (16, 20))

    def test_bare_lf_blank_line(self) -> None:
        self.assertEqual(find_head_end(bytearray(b"GET / HTCPCP/1.1\n\nX")), (16, 18))

    def test_no_blank_line_yet(self) -> None:
        self.assertIsNone(find_head_end(bytearray(b"GET / HTCPCP/1.1\r\nX: y\r\n")))


class CheckHostTests(SynchronousTestCase):
    def test_malformed_host_detail(self) -> None:
        error = self.assertRaises(
            ProtocolError, check_host, {"host": "a b"}, "HTTP/1.1", "/", "HTTP/1.1"
        )
        self.assertEqual(
            (error.status, error.detail, error.version),
            (400, "the Host header is not host[:port]", "HTTP/1.1"),
        )


class CheckExpectTests(SynchronousTestCase):
    def test_no_expectation_is_no_wait(self) -> None:
        self.assertIs(check_expect({}, "HTTP/1.1"), False)

    def test_100_continue_is_a_wait(self) -> None:
        self.assertIs(check_expect({"expect": " 100-CONTINUE "}, "HTTP/1.1"), True)
