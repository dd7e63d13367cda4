"""
Tests for the pot server protocol and dispatcher, in memory.

Each test drives a L{PotServerProtocol} over a L{StringTransport} with a
L{Clock}, so timers (brew times, head deadline, idle and quiet timeouts) are
exact.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from importlib.metadata import version as installed_version

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocol, IWriteDescriptor
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from htcpcp.config import load_config
from htcpcp.pot import CoffeeSupply
from htcpcp.service import buildPotServer
from htcpcp.urls import COFFEE_SCHEMES

from .helpers import Connection, FirstBean, fast_config, json_body, memory_server

LAB = b"Content-Type: application/coffee-pot-command\r\n"
COFFEE = b"Content-Type: message/coffeepot\r\n"
TEA = b"Content-Type: message/teapot\r\n"


def brew(
    target: bytes = b"/pot-0",
    body: bytes = b"start",
    headers: bytes = COFFEE,
    version: bytes = b"HTCPCP/1.1",
) -> bytes:
    return b"BREW %s %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
        target,
        version,
        headers,
        len(body),
        body,
    )


class LabClientTests(SynchronousTestCase):
    """The lab's clients, byte for byte."""

    def setUp(self) -> None:
        self.server, self.clock = memory_server()
        self.connection = Connection(self.server)

    def test_get_idle_pot(self) -> None:
        response = self.connection.exchange(b"GET coffee://ducky HTTP/1.1\r\n" + LAB + b"\r\n")
        self.assertEqual(
            (response.version, response.status, response.reason), ("HTCPCP/1.1", 200, "OK")
        )
        self.assertEqual(response.body, b"{}")

    def test_brew_with_milk_then_get(self) -> None:
        response = self.connection.exchange(
            b"BREW coffee://ducky HTTP/1.1\r\n"
            + LAB
            + b"Accept-Additions: whole-milk\r\nUse-Pot: ducky\r\n\r\nstart"
        )
        self.assertEqual(response.status, 200)
        self.assertEqual(self.server.pots[0].state.value, "brewing")
        self.clock.advance(30)
        status = json_body(self.connection.exchange(b"GET coffee://ducky HTTP/1.1\r\n\r\n"))
        for key in (
            "date",
            "beverage_type",
            "additions",
            "brew_time_end",
            "pour_milk_start",
            "pour_milk_stop",
            "coffee_bean",
        ):
            self.assertIn(key, status)
        self.assertEqual(status["additions"], ["whole-milk"])
        self.assertEqual(
            set(status["coffee_bean"]), {"name", "profile", "origin", "type", "strength", "roast"}
        )
        self.assertNotEqual(status["pour_milk_start"], "")
        self.assertEqual(status["state"], "pouring")

    def test_use_pot_tea_is_a_teapot(self) -> None:
        response = self.connection.exchange(
            b"BREW coffee://ducky HTTP/1.1\r\n" + LAB + b"Use-Pot: tea\r\n\r\nstart"
        )
        self.assertEqual((response.status, response.reason), (418, "I'm a teapot"))

    def test_tea_addition_not_acceptable(self) -> None:
        response = self.connection.exchange(
            b"BREW coffee://ducky HTTP/1.1\r\n"
            + LAB
            + b"Accept-Additions: tea\r\nUse-Pot: ducky\r\n\r\nstart"
        )
        self.assertEqual(response.status, 406)
        listed = response.body.decode().strip().split(", ")
        self.assertIn("Whole-milk", listed)
        self.assertIn("Oat milk", listed)
        self.assertNotIn("tea", [name.lower() for name in listed])
        self.assertEqual(self.server.pots[0].state.value, "idle")

    def test_unknown_scheme(self) -> None:
        response = self.connection.exchange(b"GET caffeine://ducky HTTP/1.1\r\n\r\n")
        self.assertEqual(response.status, 400)

    def test_unknown_host(self) -> None:
        response = self.connection.exchange(b"GET coffee://psyduck HTTP/1.1\r\n\r\n")
        self.assertEqual(response.status, 404)

    def test_unknown_method(self) -> None:
        response = self.connection.exchange(b"MILK coffee://ducky HTTP/1.1\r\n\r\n")
        self.assertEqual(response.status, 501)

    def test_tea_pot_command_media_type(self) -> None:
        response = self.connection.exchange(
            b"BREW coffee://ducky HTTP/1.1\r\nContent-Type: application/tea-pot-command\r\n"
            b"\r\nstart"
        )
        self.assertEqual(response.status, 415)


class RfcClientTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = memory_server()
        self.connection = Connection(self.server)

    def test_version_echoed(self) -> None:
        """HTCPCP versions are echoed; HTTP/1.x with a coffee: target is answered in HTCPCP."""
        cases = {
            b"/pot-0 HTCPCP/1.0": "HTCPCP/1.0",
            b"/pot-0 HTCPCP/1.1": "HTCPCP/1.1",
            b"/pot-0 HTCPCP-TEA/1.0": "HTCPCP-TEA/1.0",
            b"coffee://ducky/pot-0 HTTP/1.0": "HTCPCP/1.0",
            b"coffee://ducky/pot-0 HTTP/1.1": "HTCPCP/1.1",
        }
        for line, expected in cases.items():
            connection = Connection(self.server)
            response = connection.exchange(b"GET %s\r\n\r\n" % line)
            self.assertEqual(response.version, expected)

    def test_http_tools_get_http_status_lines(self) -> None:
        """An HTTP/1.x request in origin or http:// form is answered in HTTP/1.x."""
        cases = {
            b"/pot-0 HTTP/1.0": "HTTP/1.0",
            b"/pot-0 HTTP/1.1\r\nHost: ducky": "HTTP/1.1",
            b"http://ducky/pot-0 HTTP/1.1": "HTTP/1.1",
            b"/pot-0 HTTP/1.2\r\nHost: ducky": "HTTP/1.1",
        }
        for line, expected in cases.items():
            response = Connection(self.server).exchange(b"GET %s\r\n\r\n" % line)
            self.assertEqual((response.status, response.version), (200, expected))

    def test_message_coffeepot_with_length(self) -> None:
        self.assertEqual(self.connection.exchange(brew()).status, 200)
        self.assertEqual(self.server.pots[0].state.value, "brewing")

    def test_chunked(self) -> None:
        response = self.connection.exchange(
            b"BREW /pot-0 HTCPCP/1.1\r\n"
            + COFFEE
            + b"Transfer-Encoding: chunked\r\n\r\n5\r\nstart\r\n0\r\n\r\n"
        )
        self.assertEqual(response.status, 200)

    def test_post_is_brew(self) -> None:
        response = self.connection.exchange(brew().replace(b"BREW", b"POST", 1))
        self.assertEqual(response.status, 200)
        self.assertEqual(self.server.pots[0].state.value, "brewing")

    def test_every_scheme_reaches_the_pot(self) -> None:
        for scheme in COFFEE_SCHEMES:
            response = self.connection.exchange(
                b"GET %s://ducky/pot-0 HTCPCP/1.1\r\n\r\n" % scheme.encode()
            )
            self.assertEqual(response.status, 200, scheme)
        for iri in ("咖啡", "кофе", "caf%C3%E9", "caf%C3%A9", "café"):
            response = self.connection.exchange(
                b"GET %s://ducky/ HTCPCP/1.1\r\n\r\n" % iri.encode()
            )
            self.assertEqual(response.status, 200, iri)

    def test_pot_designators(self) -> None:
        self.connection.exchange(brew(b"coffee://ducky/pot-0"))
        by_index = json_body(self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n"))
        by_name = json_body(self.connection.exchange(b"GET /ducky HTCPCP/1.1\r\n\r\n"))
        self.assertEqual(by_index["id"], by_name["id"])
        self.assertEqual(self.connection.exchange(b"GET /pot-7 HTCPCP/1.1\r\n\r\n").status, 404)
        self.assertEqual(json_body(self.connection.exchange(b"GET /pot-1 HTCPCP/1.1\r\n\r\n")), {})

    def test_accept_additions_rfc_forms(self) -> None:
        response = self.connection.exchange(
            brew(headers=COFFEE + b"Accept-Additions: Cream;q=0.5, whisky, *, Rum;q=0\r\n")
        )
        self.assertEqual(json_body(response)["additions"], ["Cream", "whisky"])

    def test_query_additions_combined(self) -> None:
        response = self.connection.exchange(
            brew(b"/pot-0?Vanilla", headers=COFFEE + b"Accept-Additions: Skim\r\n")
        )
        self.assertEqual(json_body(response)["additions"], ["Skim", "Vanilla"])

    def test_when_stops_milk(self) -> None:
        self.connection.exchange(brew(headers=COFFEE + b"Accept-Additions: Cream\r\n"))
        self.assertEqual(self.connection.exchange(b"WHEN /pot-0 HTCPCP/1.1\r\n\r\n").status, 409)
        self.clock.advance(32)
        response = self.connection.exchange(b"WHEN /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(response.status, 200)
        self.assertEqual(json_body(response)["outcome"], "ready")
        self.assertEqual(self.server.pots[0].state.value, "ready")
        self.assertEqual(self.connection.exchange(b"WHEN /pot-0 HTCPCP/1.1\r\n\r\n").status, 409)

    def test_second_start_busy(self) -> None:
        self.connection.exchange(brew())
        self.clock.advance(10.5)
        response = self.connection.exchange(brew())
        self.assertEqual(response.status, 409)
        self.assertEqual(response.headers["retry-after"], "20")

    def test_stop(self) -> None:
        self.connection.exchange(brew())
        self.clock.advance(6)
        response = self.connection.exchange(brew(body=b" STOP\r\n"))
        self.assertEqual((response.status, json_body(response)["outcome"]), (200, "stopped"))
        taken = self.connection.exchange(brew(body=b"stop"))
        self.assertEqual((taken.status, json_body(taken)["outcome"]), (200, "stopped"))
        self.assertEqual(json_body(self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")), {})
        self.assertEqual(self.connection.exchange(brew(body=b"stop")).status, 409)

    def test_bad_body(self) -> None:
        self.assertEqual(self.connection.exchange(brew(body=b"espresso")).status, 400)

    def test_missing_content_type(self) -> None:
        self.assertEqual(self.connection.exchange(brew(headers=b"")).status, 415)

    def test_propfind_shows_bean(self) -> None:
        self.connection.exchange(brew())
        response = self.connection.exchange(b"PROPFIND /pot-0 HTCPCP/1.1\r\n\r\n")
        body = json_body(response)
        self.assertEqual(body["bean"]["name"], self.server.pots[0].current.bean.name)
        self.assertEqual(body["pot"]["kind"], "coffee")

    def test_head_has_no_body(self) -> None:
        self.connection.exchange(brew())
        self.connection.send(b"HEAD /pot-0 HTCPCP/1.1\r\n\r\n")
        self.connection.send(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        written = self.connection.transport.value()
        head_end = written.index(b"HTCPCP/1.1 200", written.index(b"Safe: yes"))
        head_response = written[written.index(b"HTCPCP/1.1 200 OK\r\nServer") : head_end]
        self.assertTrue(head_response.endswith(b"\r\n\r\n"), head_response)

    def test_unknown_version(self) -> None:
        response = self.connection.exchange(b"GET /pot-0 HTCPCP/3.0\r\n\r\n")
        self.assertEqual(response.status, 505)
        self.assertTrue(self.connection.closed)

    def test_safe_headers(self) -> None:
        get = self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        propfind = self.connection.exchange(b"PROPFIND /pot-0 HTCPCP/1.1\r\n\r\n")
        options = self.connection.exchange(b"OPTIONS /pot-0 HTCPCP/1.1\r\n\r\n")
        brewed = self.connection.exchange(brew())
        when = self.connection.exchange(b"WHEN /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(
            [r.headers["safe"] for r in (get, propfind, options, brewed, when)],
            ["yes", "yes", "yes", "no", "no"],
        )
        self.assertIn("BREW", options.headers["allow"])

    def test_every_response_has_standard_headers(self) -> None:
        for request in (
            b"GET /pot-0 HTCPCP/1.1\r\n\r\n",
            b"GET /pot-9 HTCPCP/1.1\r\n\r\n",
            brew(b"/pot-1"),
        ):
            response = self.connection.exchange(request)
            for name in ("server", "date", "content-type", "content-length"):
                self.assertIn(name, response.headers, (request, name))
            self.assertTrue(response.headers["date"].endswith(" GMT"))

    def test_server_header_names_the_installed_version(self) -> None:
        """C{Server} names the package's version as installed (its metadata), on every answer."""
        expected = f"htcpcp/{installed_version('htcpcp')} (Twisted)"
        for request in (b"GET /pot-0 HTCPCP/1.1\r\n\r\n", b"GET /pot-9 HTCPCP/1.1\r\n\r\n"):
            self.assertEqual(self.connection.exchange(request).headers["server"], expected)
        refused = Connection(self.server).exchange(b"BREW /pot-0 HTCPCP/9.9\r\n\r\n")
        self.assertEqual((refused.status, refused.headers["server"]), (505, expected))

    def test_log_is_read_only(self) -> None:
        response = self.connection.exchange(brew(b"/log"))
        self.assertEqual(response.status, 405)
        self.assertEqual(response.headers["allow"], "GET, HEAD, OPTIONS")


class HeadAdditionTests(SynchronousTestCase):
    def test_head_with_bad_addition_is_406_without_body(self) -> None:
        """A HEAD asking for an addition the pot lacks: 406, and no body (RFC 2324 2.3.1)."""
        server, _ = memory_server()
        connection = Connection(server)
        connection.send(b"HEAD /pot-0 HTCPCP/1.1\r\nAccept-Additions: Cheese\r\n\r\n")
        [response] = connection.responses(head=True)
        self.assertEqual(response.status, 406)
        self.assertTrue(connection.transport.value().endswith(b"\r\n\r\n"))


class TeaTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = memory_server()
        self.connection = Connection(self.server)

    def test_no_variety_offers_alternates(self) -> None:
        response = self.connection.exchange(brew(b"/pot-1", headers=TEA))
        self.assertEqual((response.status, response.reason), (300, "Multiple Options"))
        alternates = response.headers["alternates"]
        self.assertIn('{"/pot-1/earl-grey" {type message/teapot}}', alternates)
        self.assertEqual(self.server.pots[1].state.value, "idle")

    def test_advertised_variety_brews(self) -> None:
        alternates = self.connection.exchange(brew(b"/pot-1", headers=TEA)).headers["alternates"]
        uri = alternates.split('{"')[2].split('"')[0].encode()
        response = self.connection.exchange(brew(b"tea://ducky" + uri, headers=TEA))
        self.assertEqual(response.status, 200)
        self.assertEqual(json_body(response)["variety"], uri.rsplit(b"/", 1)[1].decode())
        self.assertEqual(self.server.pots[1].state.value, "brewing")

    def test_coffee_to_teapot(self) -> None:
        self.assertEqual(self.connection.exchange(brew(b"/pot-1/earl-grey")).status, 418)

    def test_forbidden_combination(self) -> None:
        response = self.connection.exchange(
            brew(b"/pot-1/peppermint", headers=TEA + b"Accept-Additions: Cream\r\n")
        )
        self.assertEqual(response.status, 403)

    def test_unknown_variety(self) -> None:
        self.assertEqual(self.connection.exchange(brew(b"/pot-1/rooibos", headers=TEA)).status, 404)

    def test_teapot_out_of_coffee(self) -> None:
        config = fast_config()
        teapot = replace(config.pots[1], coffee=CoffeeSupply.OUT)
        server, _ = memory_server(replace(config, pots=(config.pots[0], teapot)))
        response = Connection(server).exchange(brew(b"/pot-1"))
        self.assertEqual(response.status, 503)
        self.assertIn("retry-after", response.headers)

    def test_tea_to_coffee_pot(self) -> None:
        self.assertEqual(self.connection.exchange(brew(b"/pot-0", headers=TEA)).status, 415)


class ConfiguredPotsTests(SynchronousTestCase):
    def test_config_file_pots(self) -> None:
        config = load_config(
            "[server]\nnames = kitchen\n[pot:big]\nbrew-time = 5\nadditions = Cream, Ginger:spice\n"
        )
        server, clock = memory_server(config)
        connection = Connection(server)
        response = connection.exchange(
            brew(b"coffee://kitchen/big", headers=COFFEE + b"Accept-Additions: ginger\r\n")
        )
        self.assertEqual(json_body(response)["additions"], ["ginger"])
        clock.advance(5)
        self.assertEqual(server.pots[0].state.value, "ready")
        self.assertEqual(connection.exchange(b"GET coffee://ducky/ HTCPCP/1.1\r\n\r\n").status, 404)


class FramingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server, self.clock = memory_server()
        self.connection = Connection(self.server)

    def test_byte_by_byte(self) -> None:
        request = brew(headers=COFFEE + b"Accept-Additions: Cream\r\n")
        for index in range(len(request)):
            self.connection.send(request[index : index + 1])
        [response] = self.connection.responses()
        self.assertEqual(response.status, 200)

    def test_lengthless_body_in_later_segment(self) -> None:
        self.connection.exchange(brew())
        self.connection.send(b"BREW coffee://ducky/pot-0 HTTP/1.1\r\n" + LAB + b"\r\n")
        self.clock.advance(0.45)
        self.assertEqual(self.connection.responses(), [])
        self.connection.send(b"stop")
        [response] = self.connection.responses()
        self.assertEqual((response.status, self.server.pots[0].state.value), (200, "ready"))

    def test_lengthless_body_ends_after_quiet_time(self) -> None:
        self.connection.send(b"BREW coffee://ducky/pot-0 HTTP/1.1\r\n" + LAB + b"\r\nsta")
        self.clock.advance(0.49)
        self.assertEqual(self.connection.responses(), [])
        self.clock.advance(0.02)
        [response] = self.connection.responses()
        self.assertEqual(response.status, 400)

    def test_ten_pipelined(self) -> None:
        requests = b"".join(
            b"GET /pot-%d HTCPCP/1.1\r\nX-N: %d\r\n\r\n" % (i % 2, i) for i in range(9)
        )
        self.connection.send(requests + brew())
        responses = self.connection.responses()
        self.assertEqual(len(responses), 10)
        self.assertEqual(responses[-1].headers["safe"], "no")
        self.assertTrue(all(r.status == 200 for r in responses))

    def test_keep_alive(self) -> None:
        self.connection.exchange(b"GET /pot-0 HTTP/1.1\r\nHost: ducky\r\n\r\n")
        self.assertFalse(self.connection.closed)
        response = self.connection.exchange(
            b"GET /pot-0 HTTP/1.1\r\nHost: ducky\r\nConnection: close\r\n\r\n"
        )
        self.assertEqual(response.headers["connection"], "close")
        self.assertTrue(self.connection.closed)

    def test_http10_closes(self) -> None:
        self.connection.exchange(b"GET /pot-0 HTCPCP/1.0\r\n\r\n")
        self.assertTrue(self.connection.closed)

    def test_limits_answer_then_close(self) -> None:
        cases = {
            414: b"GET /" + b"a" * 9000 + b" HTCPCP/1.1\r\n\r\n",
            431: b"GET / HTCPCP/1.1\r\n" + b"X: 1\r\n" * 101 + b"\r\n",
            413: b"BREW / HTCPCP/1.1\r\nContent-Length: 2000\r\n\r\n",
            400: b"BREW / HTCPCP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        }
        for status, request in cases.items():
            connection = Connection(self.server)
            response = connection.exchange(request)
            self.assertEqual(response.status, status)
            self.assertEqual(response.headers["connection"], "close")
            self.assertTrue(connection.closed)

    def test_head_deadline_despite_trickle(self) -> None:
        """A head trickled one header a second is cut off at the head deadline."""
        self.connection.send(b"GET /pot-0 HTCPCP/1.1\r\n")
        for second in range(9):
            self.clock.advance(1)
            self.connection.send(b"X-%d: 1\r\n" % second)
        self.assertEqual(self.connection.responses(), [])
        self.clock.advance(1)
        [response] = self.connection.responses()
        self.assertEqual(response.status, 408)
        self.assertTrue(self.connection.closed)

    def test_idle_timeout(self) -> None:
        self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.clock.advance(59)
        self.assertFalse(self.connection.closed)
        self.clock.advance(1)
        self.assertTrue(self.connection.closed)

    def test_client_that_never_reads_is_aborted(self) -> None:
        """A close that waits for a client which does not read ends in an abort."""
        self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\nConnection: close\r\n\r\n")
        self.assertTrue(self.connection.closed)
        self.clock.advance(59)
        self.assertFalse(self.connection.transport.disconnected)
        self.clock.advance(1)
        self.assertTrue(self.connection.transport.disconnected)

    def test_garbage(self) -> None:
        response = self.connection.exchange(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
        self.assertEqual(response.status, 400)
        self.assertTrue(self.connection.closed)
        self.assertEqual(Connection(self.server).exchange(b"GET / HTCPCP/1.1\r\n\r\n").status, 200)

    def test_internal_errors_stay_inside(self) -> None:
        def explode(request: object) -> None:
            raise RuntimeError("secret internal detail")

        self.server.dispatcher.handle = explode  # type: ignore[method-assign]
        response = self.connection.exchange(b"GET / HTCPCP/1.1\r\n\r\n")
        self.assertEqual(response.status, 500)
        self.assertNotIn(b"secret", response.raw)
        self.assertNotIn(b"Traceback", response.raw)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


@implementer(IWriteDescriptor)
class DescriptorTransport(StringTransport):
    """A transport that is, like a TCP connection, the file descriptor the reactor writes."""


class HalfCloseTests(SynchronousTestCase):
    """
    A connection is half-closeable exactly while the client's half-close
    matters: something to read, answer or send remains.
    """

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        self.server = buildPotServer(fast_config(), None, self.reactor, FirstBean())  # type: ignore[arg-type]
        self.connection = Connection(self.server, DescriptorTransport())
        self.protocol = self.connection.protocol

    def half_closeable(self, protocol: object = None) -> bool:
        protocol = protocol or self.protocol
        return IHalfCloseableProtocol(protocol, None) is protocol

    def test_nothing_asked(self) -> None:
        self.assertFalse(self.half_closeable())

    def test_head_in_progress(self) -> None:
        self.connection.send(b"GET /pot-0 HTCPCP/1.1\r\n")
        self.assertTrue(self.half_closeable())

    def test_answer_not_yet_sent(self) -> None:
        self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.reactor.addWriter(self.connection.transport)  # type: ignore[arg-type]
        self.assertTrue(self.half_closeable())
        self.reactor.removeWriter(self.connection.transport)  # type: ignore[arg-type]
        self.assertFalse(self.half_closeable())

    def test_lengthless_body_awaited(self) -> None:
        self.connection.send(b"BREW coffee://ducky/pot-0 HTTP/1.1\r\n" + LAB + b"\r\n")
        self.assertTrue(self.half_closeable())

    def test_transport_over_another(self) -> None:
        """A transport that is not the descriptor itself (TLS, say) is never taken as sent."""
        other = Connection(self.server)
        other.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertTrue(self.half_closeable(other.protocol))

    def test_clock_without_writers(self) -> None:
        """Without a reactor to ask, the connection is always half-closeable."""
        protocol = Connection(memory_server()[0], DescriptorTransport()).protocol
        self.assertTrue(self.half_closeable(protocol))

    def test_other_interfaces_unchanged(self) -> None:
        self.assertIs(IProtocol(self.protocol, None), self.protocol)
        self.assertIsNone(IHalfCloseableProtocol(object(), None))


class SocketTransport(StringTransport):
    """A transport whose handle is a real (unconnected) socket, to read its options back."""

    def __init__(self) -> None:
        super().__init__()
        self.handle = socket.socket()

    def getHandle(self) -> socket.socket:
        return self.handle


class KernelSendBufferTests(SynchronousTestCase):
    """The kernel's send buffer is limited once a connection has sent 64 KiB, not before."""

    def setUp(self) -> None:
        self.transport = SocketTransport()
        self.addCleanup(self.transport.handle.close)
        self.connection = Connection(memory_server()[0], self.transport)
        with socket.socket() as fresh:
            self.unlimited = fresh.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
            fresh.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            self.limited = fresh.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    def send_buffer(self) -> int:
        return self.transport.handle.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)

    def test_a_connection_that_asks_once_costs_no_system_call(self) -> None:
        self.connection.exchange(b"GET /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(self.send_buffer(), self.unlimited)

    def test_limited_once_64_kib_were_sent(self) -> None:
        while len(self.transport.value()) < 64 * 1024:
            self.assertEqual(self.send_buffer(), self.unlimited)
            self.connection.send(b"PROPFIND /pot-0 HTCPCP/1.1\r\n\r\n")
        self.assertEqual(self.send_buffer(), self.limited)
