"""
Tests for L{ResponseBytes}: the answers it remembers within a second (those
to safe methods) and those it makes afresh every time (those to changes).
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.reply import JSON, Reply
from htcpcp.response_bytes import ResponseBytes

START = 1_700_000_000.25
REMEMBERED = 256
"""The documented number of answers remembered within one second."""


def _formatter() -> ResponseBytes:
    clock = Clock()
    clock.advance(START)
    return ResponseBytes(clock, "test")


def _brewed(number: int) -> Reply:
    """The answer to one BREW: a new brew each time."""
    return Reply(200, b'{"id":"%032x"}' % number, JSON, safe="no")


class RememberedTests(SynchronousTestCase):
    def test_safe_answer_made_once_a_second(self) -> None:
        """A GET asked twice in one second is answered with the bytes made the first time."""
        responses = _formatter()
        idle = Reply(200, b"{}", JSON, safe="yes")
        first = responses.response(idle, "HTTP/1.1", "GET", False)
        self.assertIs(responses.response(idle, "HTTP/1.1", "GET", False), first)

    def test_answer_to_a_change_made_each_time(self) -> None:
        """The same reply to a BREW twice is formatted twice: changes are not remembered."""
        responses = _formatter()
        brewed = _brewed(1)
        first = responses.response(brewed, "HTTP/1.1", "BREW", False)
        second = responses.response(brewed, "HTTP/1.1", "BREW", False)
        self.assertEqual(second, first)
        self.assertIsNot(second, first)

    def test_changes_push_no_safe_answer_out(self) -> None:
        """As many BREW answers as can be remembered leave a GET's answer remembered."""
        responses = _formatter()
        idle = Reply(200, b"{}", JSON, safe="yes")
        first = responses.response(idle, "HTTP/1.1", "GET", False)
        for number in range(REMEMBERED):
            responses.response(_brewed(number), "HTTP/1.1", "BREW", False)
        self.assertIs(responses.response(idle, "HTTP/1.1", "GET", False), first)

    def test_answer_to_a_change_is_whole(self) -> None:
        """A BREW's answer, though not remembered, has its head, length and body."""
        responses = _formatter()
        made = responses.response(_brewed(7), "HTTP/1.1", "BREW", False)
        body = b'{"id":"%032x"}' % 7
        self.assertTrue(made.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"\r\nContent-Length: %d\r\n" % len(body), made)
        self.assertIn(b"\r\nSafe: no\r\n", made)
        self.assertTrue(made.endswith(b"\r\n\r\n" + body))
