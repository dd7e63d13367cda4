"""
Tests of where the servers listen: dual stack for bare tcp:/ssl: ports,
exactly the interface given otherwise, and one clear line when a port is taken.
"""

from __future__ import annotations

import errno
import shutil
import socket
import subprocess
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from htcpcp.addresses import _ipv6_from_proc
from htcpcp.listening import (
    DualStackServerEndpoint,
    cannot_listen,
    endpoint_fields,
    probe,
    server_endpoint,
    where,
)
from htcpcp.tls import with_certificate

from .helpers import Connection, memory_server


class Hello(Protocol):
    def connectionMade(self) -> None:
        self.transport.write(b"hello")
        self.transport.loseConnection()


def read_from(family: int, address: str, port: int) -> bytes:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect((address, port))
        return sock.recv(100)


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class ListeningTests(TestCase):
    async def listen(self, description: str) -> IListeningPort:
        port = await server_endpoint(reactor, description).listen(Factory.forProtocol(Hello))
        self.addCleanup(port.stopListening)
        return port

    async def test_a_bare_port_answers_on_ipv4_and_ipv6(self) -> None:
        if not has_ipv6():
            raise SkipTest("this machine has no IPv6 loopback")
        port = await self.listen("tcp:0")
        number = port.getHost().port
        self.assertEqual(where(port), f"every IPv4 and IPv6 address, port {number}")
        self.assertEqual(
            await deferToThread(read_from, socket.AF_INET, "127.0.0.1", number), b"hello"
        )
        self.assertEqual(await deferToThread(read_from, socket.AF_INET6, "::1", number), b"hello")

    async def test_an_interface_is_taken_as_given(self) -> None:
        port = await self.listen("tcp:0:interface=127.0.0.1")
        number = port.getHost().port
        self.assertEqual(where(port), f"127.0.0.1:{number}")
        if has_ipv6():
            with self.assertRaises(ConnectionRefusedError):
                await deferToThread(read_from, socket.AF_INET6, "::1", number)

    async def test_a_bare_ssl_port_is_dual_stack_too(self) -> None:
        description = with_certificate("ssl:0", Path(self.mktemp()))
        self.assertIsInstance(server_endpoint(reactor, description), DualStackServerEndpoint)
        self.assertNotIsInstance(
            server_endpoint(reactor, description + ":interface=127.0.0.1"),
            DualStackServerEndpoint,
        )


class EndpointStringTests(SynchronousTestCase):
    def test_escapes_are_undone(self) -> None:
        self.assertEqual(
            endpoint_fields(r"ssl:5443:privateKey=C\:\\keys\\a.pem"),
            ("ssl", ["5443"], {"privateKey": r"C:\keys\a.pem"}),
        )

    def test_options_the_suite_does_not_take_are_refused(self) -> None:
        for description in ("tcp:5030:sslmethod=x", "ssl:5443:privateKey=k:dhParameters=d"):
            self.assertRaises(ValueError, server_endpoint, MemoryReactor(), description)
        self.assertRaises(ValueError, server_endpoint, MemoryReactor(), "tcp:70000")

    def test_a_taken_port_is_one_line(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with self.assertRaises(CannotListenError) as raised:
                probe(f"tcp:{port}:interface=127.0.0.1")
        line = cannot_listen(raised.exception)
        self.assertEqual(raised.exception.socketError.errno, errno.EADDRINUSE)
        self.assertNotIn("\n", line)
        self.assertIn(f"port {port} of 127.0.0.1", line)
        self.assertIn("another server is using it", line)

    def test_a_free_port_passes(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        probe(f"tcp:{port}:interface=127.0.0.1")
        probe("unix:/nonexistent/socket")


class AddressTests(SynchronousTestCase):
    def test_ipv6_addresses_from_proc_without_link_local(self) -> None:
        text = (
            "00000000000000000000000000000001 01 80 10 80       lo\n"
            "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n"
            "fd000000000000000000000000000002 04 40 00 82     eth0\n"
            "garbage\n"
        )
        self.assertEqual(_ipv6_from_proc(text), ["::1", "fd00::2"])

    def test_the_server_answers_to_every_address_of_this_machine(self) -> None:
        tool = shutil.which("hostname")
        if tool is None:
            raise SkipTest("no hostname command to list this machine's addresses")
        listed = subprocess.run([tool, "-I"], capture_output=True, text=True, timeout=10)
        addresses = [a for a in listed.stdout.split() if not a.lower().startswith("fe80")]
        server, _ = memory_server()
        for address in [*addresses, socket.gethostname()]:
            host = f"[{address}]" if ":" in address else address
            answer = Connection(server).exchange(
                f"GET coffee://{host}/pot-0 HTCPCP/1.1\r\n\r\n".encode()
            )
            self.assertEqual(answer.status, 200, address)
        refused = Connection(server).exchange(
            b"GET coffee://elsewhere.example/pot-0 HTCPCP/1.1\r\n\r\n"
        )
        self.assertEqual(refused.status, 404)
