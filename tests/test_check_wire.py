"""
The pieces of L{htcpcp.check} that need no pot: reading what a broken
server sends, RFC 2295 Alternates, the command line's URL, choosing cases,
and the exit statuses of C{htcpcp check}.
"""

from __future__ import annotations

import io

from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from htcpcp.check.alternates import AlternatesError, Variant, parse_alternates
from htcpcp.check.command import parse_server_url
from htcpcp.check.model import Ending
from htcpcp.check.runner import select_cases
from htcpcp.check.wire import Segment, ServerAddress, exchange, parse_responses
from htcpcp.cli import execute

OK = b"HTCPCP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class ParseTests(TestCase):
    def test_complete_responses_in_order(self) -> None:
        found, problem = parse_responses(OK + OK.replace(b"200 OK", b"404 Not Found"), [], False)
        self.assertEqual(([r.status for r in found], problem), ([200, 404], ""))

    def test_no_status_line(self) -> None:
        found, problem = parse_responses(b'{"a": 1}', [], True)
        self.assertEqual((found, problem), ((), "no status line: the answer starts b'{\"a\": 1}'"))

    def test_garbage_after_a_response(self) -> None:
        found, problem = parse_responses(OK + b"hello\r\n\r\n", [], False)
        self.assertEqual(len(found), 1)
        self.assertEqual(problem, "no status line: the answer starts b'hello\\r'")

    def test_body_until_close(self) -> None:
        data = b"HTCPCP/1.1 418 I'm a Teapot\r\n\r\nshort and stout"
        self.assertEqual(parse_responses(data, [], False), ((), ""))
        [found], _ = parse_responses(data, [], True)
        self.assertEqual((found.status, found.body), (418, b"short and stout"))

    def test_head_answers_have_no_body(self) -> None:
        [found], _ = parse_responses(OK, [True], False)
        self.assertEqual(found.body, b"")


class AlternatesTests(TestCase):
    def test_rfc_7168_example(self) -> None:
        value = (
            '{"/" {type message/coffeepot}}, {"/pot-0/darjeeling" {type message/teapot}},'
            ' {"/pot-1/peppermint" {type message/teapot}}'
        )
        self.assertEqual(
            parse_alternates(value),
            [
                Variant("/", None, "message/coffeepot"),
                Variant("/pot-0/darjeeling", None, "message/teapot"),
                Variant("/pot-1/peppermint", None, "message/teapot"),
            ],
        )

    def test_rfc_2295_quality_attributes_and_directive(self) -> None:
        value = '{"paper.1" 0.9 {type text/html} {language en}}, {"paper.2"}, proxy-rvsa="1.0"'
        self.assertEqual(
            parse_alternates(value),
            [Variant("paper.1", 0.9, "text/html"), Variant("paper.2", None, None)],
        )

    def test_malformed(self) -> None:
        for value in (
            "",
            "/darjeeling, /earl-grey",
            '{"/a" {type x/y}} {"/b"}',
            '{"/a" {type x/y}',
        ):
            self.assertRaises(AlternatesError, parse_alternates, value)


class URLTests(TestCase):
    def test_forms(self) -> None:
        self.assertEqual(
            parse_server_url("coffee://localhost:5031"), ("localhost", 5031, "localhost:5031", None)
        )
        self.assertEqual(parse_server_url("ducky"), ("ducky", 5030, "ducky", None))
        self.assertEqual(
            parse_server_url("%4Baffee://[::1]:6000/pot-2"), ("::1", 6000, "[::1]:6000", "/pot-2")
        )
        self.assertEqual(parse_server_url("coffee://h/"), ("h", 5030, "h", None))

    def test_bad(self) -> None:
        for url in ("", "coffee://", "coffee://h:99999", "coffee://a b"):
            self.assertRaises(ValueError, parse_server_url, url)


class SelectTests(TestCase):
    def test_profiles_and_patterns(self) -> None:
        self.assertEqual(
            [c.id for c in select_cases("lab", "lab/1?")], [f"lab/1{n}" for n in range(10)]
        )
        self.assertEqual(
            {c.id for c in select_cases("all", "*406*")},
            {
                "lab/7",
                "lab/8",
                "rfc2324/10",
                "rfc2324/11",
                "rfc2324/12",
                "rfc7168/11",
                "rfc7168/13",
            },
        )
        self.assertEqual(
            [c.id for c in select_cases("all", "http/1, rfc7168/2")], ["rfc7168/2", "http/1"]
        )
        self.assertEqual(select_cases("http", "lab/*"), [])


class _Silent(Protocol):
    def connectionMade(self) -> None:
        self.transport.write(b"HTCPCP/1.1 100 Continue\r\n\r\n")


class ExchangeTests(TestCase):
    async def test_segments_wait_for_interim_answers_and_timeout(self) -> None:
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(_Silent)
        )
        self.addCleanup(port.stopListening)
        server = ServerAddress("127.0.0.1", port.getHost().port)
        attempt = await exchange(
            reactor, server, [Segment(b"a"), Segment(b"b", after_responses=1)], timeout=0.3
        )
        self.assertEqual((attempt.sent, attempt.ending), (b"ab", Ending.TIMEOUT))
        self.assertEqual(([r.status for r in attempt.responses], attempt.response), ([100], None))

    async def test_refused(self) -> None:
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Protocol)
        )
        number = port.getHost().port
        await port.stopListening()
        attempt = await exchange(
            reactor, ServerAddress("127.0.0.1", number), [Segment(b"x")], timeout=1
        )
        self.assertEqual((attempt.ending, attempt.received), (Ending.REFUSED, b""))
        self.assertIn(f"cannot connect to 127.0.0.1:{number}", attempt.error)


async def command(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = await execute(["check", *argv], reactor, out, err)
    return status, out.getvalue(), err.getvalue()


class CommandTests(TestCase):
    async def test_unreachable(self) -> None:
        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Protocol)
        )
        number = port.getHost().port
        await port.stopListening()
        self.assertEqual(
            await command(f"coffee://127.0.0.1:{number}"),
            (3, "", f"htcpcp check: cannot connect to 127.0.0.1:{number}\n"),
        )

    async def test_usage(self) -> None:
        self.assertEqual(
            await command("coffee://a b"),
            (2, "", "htcpcp check: 'coffee://a b' is not a URL such as coffee://localhost:5030\n"),
        )
        self.assertEqual(
            await command("coffee://h", "--only", "nothing-matches"),
            (2, "", "htcpcp check: no case matches 'nothing-matches'\n"),
        )
        status, _, err = await command("coffee://h", "--cafile", "x.pem", "--insecure")
        self.assertEqual(status, 2)
        self.assertIn("not allowed with argument", err)
        status, _, err = await command("coffee://h", "--cafile", "/nonexistent.pem")
        self.assertEqual(
            (status, err),
            (
                2,
                "htcpcp check: cannot read the CA file /nonexistent.pem:"
                " No such file or directory\n",
            ),
        )
