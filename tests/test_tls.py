"""
Tests of the suite's TLS: the generated certificate is a leaf valid for this
machine's names, servers offer only ECDHE+AEAD suites under TLS 1.2, and key
logging (C{--tls-keylog}, C{SSLKEYLOGFILE}) lets tshark decrypt a capture.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from twisted.internet import reactor, threads
from twisted.internet.interfaces import IListeningPort
from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.addresses import local_addresses
from htcpcp.listening import server_endpoint
from htcpcp.service import buildPotServer
from htcpcp.tls import (
    CERTIFICATE_FILE,
    KeyLog,
    ensure_certificate,
    keylog_from,
    self_signed_pem,
    with_certificate,
)

from .helpers import fast_config
from .pcapfile import Capture

GET = b"GET coffee://localhost/pot-0 HTCPCP/1.1\r\nConnection: close\r\n\r\n"
BREW = (
    b"BREW /pot-0 HTCPCP/1.1\r\nHost: localhost\r\nContent-Type: message/coffeepot\r\n"
    b"Content-Length: 5\r\nConnection: close\r\n\r\nstart"
)


def _certificate(directory: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / CERTIFICATE_FILE).read_bytes())


class GeneratedCertificateTests(SynchronousTestCase):
    def test_a_leaf_for_servers_only(self) -> None:
        directory = Path(self.mktemp())
        ensure_certificate(directory)
        extensions = _certificate(directory).extensions
        constraints = extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertFalse(constraints.value.ca)
        self.assertTrue(constraints.critical)
        usage = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(usage), [ExtendedKeyUsageOID.SERVER_AUTH])
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
        self.assertTrue(key_usage.digital_signature)
        self.assertFalse(key_usage.key_cert_sign)
        self.assertFalse(key_usage.crl_sign)

    def test_valid_for_every_address_and_name_of_this_machine(self) -> None:
        directory = Path(self.mktemp())
        ensure_certificate(directory, ["kitchen.example.org", "10.9.8.7"])
        names = _certificate(directory).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
        dns = set(names.value.get_values_for_type(x509.DNSName))
        addresses = {str(a) for a in names.value.get_values_for_type(x509.IPAddress)}
        self.assertLessEqual({"localhost", "ducky", "kitchen.example.org"}, dns)
        self.assertIn(socket.gethostname().lower(), dns)
        self.assertLessEqual({"127.0.0.1", "::1", "10.9.8.7"}, addresses)
        every = {str(ipaddress.ip_address(a)) for a in local_addresses()}
        self.assertLessEqual(every, addresses)

    def test_an_old_ca_certificate_is_replaced_by_a_leaf(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        both, alone = self_signed_pem(["localhost"], ["127.0.0.1"])
        (directory / "server.pem").write_bytes(both)
        (directory / CERTIFICATE_FILE).write_bytes(alone)
        ensure_certificate(directory)
        self.assertNotEqual((directory / CERTIFICATE_FILE).read_bytes(), alone)

    def test_a_certificate_still_covering_everything_is_kept(self) -> None:
        directory = Path(self.mktemp())
        ensure_certificate(directory)
        first = (directory / CERTIFICATE_FILE).read_bytes()
        ensure_certificate(directory)
        self.assertEqual((directory / CERTIFICATE_FILE).read_bytes(), first)
        ensure_certificate(directory, ["new.example"])
        self.assertNotEqual((directory / CERTIFICATE_FILE).read_bytes(), first)

    def test_the_endpoint_names_the_key_by_absolute_path(self) -> None:
        directory = Path(self.mktemp())
        description = with_certificate("ssl:5443", directory)
        key = str((directory / "server.pem").absolute())
        self.assertTrue(os.path.isabs(key))
        self.assertIn(f"privateKey={key.replace(':', chr(92) + ':')}", description)


class KeyLogOptionTests(SynchronousTestCase):
    def test_option_then_environment_then_none(self) -> None:
        given = Path(self.mktemp()).absolute()
        from_env = Path(self.mktemp()).absolute()
        environ = {"SSLKEYLOGFILE": str(from_env)}
        keylog = keylog_from(str(given), environ)
        assert keylog is not None
        self.assertEqual(keylog.path, given)
        from_environment = keylog_from(None, environ)
        assert from_environment is not None
        self.assertEqual(from_environment.path, from_env)
        self.assertIsNone(keylog_from(None, {}))
        self.assertIsNone(keylog_from(None, {"SSLKEYLOGFILE": ""}))

    def test_one_writer_per_file(self) -> None:
        path = str(Path(self.mktemp()).absolute())
        self.assertIs(keylog_from(path, {}), keylog_from(path, {}))


class _Relay:
    """
    A TCP relay on loopback that records both directions as a pcap, one
    segment per read, so tshark can be given a real TLS conversation without
    capture privileges.
    """

    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.capture = Capture()
        self.conversation = self.capture.connect(40001, server_port)
        self._lock = threading.Lock()

    def run_one(self) -> None:
        self.listener.settimeout(10)
        client, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.server_port), timeout=10)
        client.settimeout(10)
        done = threading.Event()

        def pump(source: socket.socket, sink: socket.socket, side: str) -> None:
            try:
                while data := source.recv(65536):
                    with self._lock:
                        getattr(self.conversation, side)(data)
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                with_shutdown(sink)
                done.set()

        back = threading.Thread(target=pump, args=(upstream, client, "server"), daemon=True)
        back.start()
        pump(client, upstream, "client")
        back.join(10)
        client.close()
        upstream.close()
        self.listener.close()


def with_shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def tls_exchange(port: int, cafile: Path, request: bytes, **context_options: Any) -> bytes:
    context = ssl.create_default_context(cafile=str(cafile))
    for name, value in context_options.items():
        if name == "ciphers":
            context.set_ciphers(value)
        else:
            setattr(context, name, value)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


class TLSServerTests(TestCase):
    """A real pot server over TLS on loopback, with the suite's server options."""

    def serve(self, keylog: KeyLog | None = None) -> tuple[int, Path]:
        directory = Path(self.mktemp())
        description = with_certificate("ssl:0:interface=127.0.0.1", directory)
        server = buildPotServer(fast_config())
        endpoint = server_endpoint(reactor, description, keylog)
        listening: list[IListeningPort] = []
        endpoint.listen(server.factory).addCallback(listening.append)
        self.addCleanup(lambda: listening[0].stopListening())
        for pot in server.pots:
            self.addCleanup(pot.shutdown)
        return listening[0].getHost().port, directory / CERTIFICATE_FILE

    async def test_tls12_offers_only_ecdhe_with_aead(self) -> None:
        port, cafile = self.serve()
        for suite in ("AES256-SHA", "AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256"):
            with self.assertRaises(ssl.SSLError, msg=suite):
                await threads.deferToThread(
                    tls_exchange,
                    port,
                    cafile,
                    GET,
                    maximum_version=ssl.TLSVersion.TLSv1_2,
                    ciphers=suite,
                )
        for suite in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"):
            answer = await threads.deferToThread(
                tls_exchange,
                port,
                cafile,
                GET,
                maximum_version=ssl.TLSVersion.TLSv1_2,
                ciphers=suite,
            )
            self.assertTrue(answer.startswith(b"HTCPCP/1.1 200"), suite)

    async def test_tls13_as_it_is(self) -> None:
        port, cafile = self.serve()
        answer = await threads.deferToThread(
            tls_exchange, port, cafile, GET, minimum_version=ssl.TLSVersion.TLSv1_3
        )
        self.assertTrue(answer.startswith(b"HTCPCP/1.1 200"))

    async def test_tls11_is_refused(self) -> None:
        port, cafile = self.serve()

        def old() -> bytes:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(str(cafile))
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("ALL:@SECLEVEL=0")
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname="localhost") as sock,
            ):
                sock.sendall(GET)
                return sock.recv(100)

        with self.assertRaises(ssl.SSLError):
            await threads.deferToThread(old)

    async def test_key_log_lets_tshark_decrypt_the_htcpcp_inside(self) -> None:
        from .test_dissector import require_tshark, run_tshark, values

        require_tshark()
        keylog_path = Path(self.mktemp()).absolute()
        keylog = KeyLog(keylog_path)
        self.addCleanup(keylog.close)
        port, cafile = self.serve(keylog)
        relay = _Relay(port)
        relaying = threads.deferToThread(relay.run_one)
        answer = await threads.deferToThread(tls_exchange, relay.port, cafile, BREW)
        await relaying
        self.assertTrue(answer.startswith(b"HTCPCP/1.1 200"))
        lines = keylog_path.read_text().splitlines()
        self.assertTrue(lines)
        self.assertTrue(all(line.split(" ")[0].isupper() for line in lines))
        capture = relay.capture.write(Path(self.mktemp() + ".pcap"))

        opaque = run_tshark(capture, "htcpcp", ("-d", f"tcp.port=={port},tls"))
        self.assertEqual(opaque, {})
        options = ("-o", f"tls.keylog_file:{keylog_path}", "-d", f"tcp.port=={port},tls")
        rows = run_tshark(capture, "htcpcp", options)
        methods = [
            m for frame in sorted(rows) for m in values(rows[frame], "htcpcp.request.method")
        ]
        codes = [c for frame in sorted(rows) for c in values(rows[frame], "htcpcp.response.code")]
        self.assertEqual(methods, ["BREW"])
        self.assertEqual(codes, ["200"])
