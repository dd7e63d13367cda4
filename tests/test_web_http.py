"""
The web front end over real loopback ports: static assets and their
validators, gzip (and none on the event stream), keep-alive, HEAD, body
limits, HTTPS with the generated certificate, TLS to the pot, and the pot's
HTCPCP visible on the wire.

HTTP is spoken with the standard library's client in a thread, so the
bytes on the wire are checked as they are (no transparent decoding).
"""

from __future__ import annotations

import gzip
import http.client
import re
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint, serverFromString
from twisted.internet.ssl import PrivateCertificate
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from htcpcp.service import buildPotServer
from htcpcp.storage import History
from htcpcp.tls import CERTIFICATE_FILE, self_signed_pem, with_certificate
from htcpcp.web import FrontEnd
from htcpcp.web.http.site import make_site
from htcpcp.web.http.statics import STATIC_DIRECTORY

from .helpers import fast_config

BREW_FORM = "pot=0&drink=coffee&additions=Cream&__csrf_protection__={}"


class _Recording(ProtocolWrapper):
    def dataReceived(self, data: bytes) -> None:
        self.factory.received.append((self.transport.getPeer().host, data))
        super().dataReceived(data)


class RecordingFactory(WrappingFactory):
    """Wraps the pot's factory and keeps what every connection sent, with its peer."""

    protocol = _Recording

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)
        self.received: list[tuple[str, bytes]] = []


@dataclass
class Fetched:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    cookies: list[str] = field(default_factory=list)


def fetch(
    port: int,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    context: ssl.SSLContext | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Fetched:
    """One request with the standard library's client (blocking: run it in a thread)."""
    if connection is None:
        connection = (
            http.client.HTTPSConnection("localhost", port, timeout=10, context=context)
            if context
            else http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        )
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    cookies = response.headers.get_all("Set-Cookie") or []
    return Fetched(response.status, response.headers, data, cookies)


class WebOverPorts(TestCase):
    """Starts a pot server and a front end on loopback ports, and stops them."""

    retry = 1.0
    heartbeat = 15.0

    def start_pot(self, tls_directory: Path | None = None, port: int = 0) -> int:
        history = History(self.mktemp())
        self.pot = buildPotServer(fast_config(), history)
        self.recorder = RecordingFactory(self.pot.factory)
        if tls_directory is None:
            endpoint = TCP4ServerEndpoint(reactor, port, interface="127.0.0.1")
        else:
            both, alone = self_signed_pem(["localhost"], ["127.0.0.1"])
            tls_directory.mkdir(parents=True, exist_ok=True)
            (tls_directory / "pot.pem").write_bytes(alone)
            options = PrivateCertificate.loadPEM(both).options()
            endpoint = SSL4ServerEndpoint(reactor, port, options, interface="127.0.0.1")
        listening = self.successResultOf(endpoint.listen(self.recorder))
        self.pot_port = listening
        self.addCleanup(self.pot.close)
        self.addCleanup(listening.stopListening)
        return listening.getHost().port

    def start_web(self, pot_at: str, web_endpoint: str = "tcp:0:interface=127.0.0.1") -> int:
        self.front = FrontEnd.connect(
            pot_at, timeout=5.0, heartbeat=self.heartbeat, retry=self.retry
        )
        self.addCleanup(self.front.close)
        listening = self.successResultOf(
            serverFromString(reactor, web_endpoint).listen(make_site(self.front.resource()))
        )
        self.addCleanup(listening.stopListening)
        return listening.getHost().port

    def start(self) -> int:
        pot = self.start_pot()
        return self.start_web(f"tcp:127.0.0.1:{pot}")


class StaticAssetTests(WebOverPorts):
    async def test_validators_and_304(self) -> None:
        port = self.start()
        first = await deferToThread(fetch, port, "/static/style.css")
        self.assertEqual(first.status, 200)
        self.assertEqual(first.headers["Content-Type"], "text/css; charset=utf-8")
        self.assertEqual(first.body, (STATIC_DIRECTORY / "style.css").read_bytes())
        self.assertEqual(first.headers["Cache-Control"], "public, max-age=600")
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        self.assertRegex(etag, r'^"[0-9a-f]+-[0-9a-f]+"$')
        by_tag = await deferToThread(
            fetch, port, "/static/style.css", headers={"If-None-Match": etag}
        )
        self.assertEqual((by_tag.status, by_tag.body), (304, b""))
        by_date = await deferToThread(
            fetch, port, "/static/style.css", headers={"If-Modified-Since": modified}
        )
        self.assertEqual((by_date.status, by_date.body), (304, b""))
        stale = await deferToThread(
            fetch, port, "/static/style.css", headers={"If-None-Match": '"x"'}
        )
        self.assertEqual(stale.status, 200)

    async def test_text_is_gzipped_images_are_not(self) -> None:
        port = self.start()
        accept = {"Accept-Encoding": "gzip"}
        for path, content_type in (
            ("/static/app.js", "text/javascript; charset=utf-8"),
            ("/static/cup.svg", "image/svg+xml; charset=utf-8"),
            ("/robots.txt", "text/plain; charset=utf-8"),
        ):
            got = await deferToThread(fetch, port, path, headers=accept)
            self.assertEqual(got.headers["Content-Encoding"], "gzip", path)
            self.assertEqual(got.headers["Content-Type"], content_type)
            self.assertIn("Accept-Encoding", got.headers["Vary"])
            name = path.rsplit("/", 1)[1]
            self.assertEqual(gzip.decompress(got.body), (STATIC_DIRECTORY / name).read_bytes())
        icon = await deferToThread(fetch, port, "/favicon.ico", headers=accept)
        self.assertEqual(icon.headers["Content-Type"], "image/x-icon")
        self.assertIsNone(icon.headers["Content-Encoding"])
        self.assertEqual(icon.body, (STATIC_DIRECTORY / "favicon.ico").read_bytes())
        page = await deferToThread(fetch, port, "/", headers=accept)
        self.assertEqual(page.headers["Content-Encoding"], "gzip")
        self.assertIn(b">ducky</h2>", gzip.decompress(page.body))

    async def test_no_listing_and_no_escape(self) -> None:
        port = self.start()
        for path in ("/static/", "/static/..%2fapp.py", "/static/nothing.css"):
            got = await deferToThread(fetch, port, path)
            self.assertEqual(got.status, 404, path)
            self.assertNotIn(b"app.py", got.body)


def _read_event_stream(port: int, path: str = "/events") -> tuple[dict[str, str], bytes]:
    """Open an event stream, read until its first event, and hang up."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
            b"Accept-Encoding: gzip\r\nAccept: text/event-stream\r\n\r\n"
        )
        received = b""
        while not re.search(rb"data: [^\n]*\n\n", received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers, rest


class ConnectionTests(WebOverPorts):
    async def test_event_stream_is_never_gzipped(self) -> None:
        port = self.start()
        headers, body = await deferToThread(_read_event_stream, port)
        self.assertEqual(headers["content-type"], "text/event-stream; charset=utf-8")
        self.assertNotIn("content-encoding", headers)
        self.assertIn(b"retry: 3000\n\n", body)
        self.assertIn(b'data: {"ok": true', body)

    async def test_keep_alive_serves_several_requests_on_one_connection(self) -> None:
        port = self.start()

        def two_requests() -> tuple[int, int, bool]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            first = fetch(port, "/", connection=connection)
            sock = connection.sock
            second = fetch(port, "/static/style.css", connection=connection)
            same = sock is not None and connection.sock is sock
            connection.close()
            return first.status, second.status, same

        self.assertEqual(await deferToThread(two_requests), (200, 200, True))

    async def test_head(self) -> None:
        port = self.start()
        for path in ("/", "/history", "/static/style.css"):
            got = await deferToThread(fetch, port, path, "HEAD")
            self.assertEqual((got.status, got.body), (200, b""), path)

    async def test_oversized_bodies_are_refused(self) -> None:
        port = self.start()

        def post_huge() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST /brew HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n\r\npot=0"
                )
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
            return received

        answer = await deferToThread(post_huge)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)

    async def test_one_page_view_is_htcpcp_on_the_loopback_wire(self) -> None:
        port = self.start()
        page = await deferToThread(fetch, port, "/")
        self.assertEqual(page.status, 200)
        peers = {peer for peer, _ in self.recorder.received}
        wire = b"".join(data for _, data in self.recorder.received)
        self.assertEqual(peers, {"127.0.0.1"})
        self.assertTrue(wire.startswith(b"GET /pots HTCPCP/1.1\r\n"), wire[:80])
        exchanges = self.front.inspector.recent()
        self.assertTrue(exchanges)
        pot = self.pot_port.getHost().port
        self.assertEqual({e.endpoint for e in exchanges}, {f"127.0.0.1:{pot}"})


class RecoveryTests(WebOverPorts):
    retry = 0.2
    heartbeat = 0.2

    async def test_pot_server_away_then_back(self) -> None:
        pot = self.start_pot()
        port = self.start_web(f"tcp:127.0.0.1:{pot}")
        self.assertEqual((await deferToThread(fetch, port, "/")).status, 200)
        await self.pot_port.stopListening()
        await self.front.gateway.client.close()
        await deferLater(reactor, self.retry * 2)
        away = await deferToThread(fetch, port, "/")
        self.assertEqual(away.status, 503)
        self.assertIn(b"The pot server cannot be reached", away.body)
        self.start_pot(port=pot)
        await deferLater(reactor, self.retry * 2)
        back = await deferToThread(fetch, port, "/")
        self.assertEqual(back.status, 200)
        self.assertIn(b">ducky</h2>", back.body)


class TlsTests(WebOverPorts):
    async def test_https_with_the_generated_certificate_and_tls_to_the_pot(self) -> None:
        directory = Path(self.mktemp()).absolute()
        pot = self.start_pot(tls_directory=directory / "trust")
        pot_at = f"tls:localhost:{pot}:trustRoots={directory / 'trust'}:timeout=5"
        web = with_certificate("ssl:0:interface=127.0.0.1", directory)
        port = self.start_web(pot_at, web)
        context = ssl.create_default_context(cafile=str(directory / CERTIFICATE_FILE))

        def browse() -> tuple[Fetched, Fetched]:
            connection = http.client.HTTPSConnection("localhost", port, timeout=10, context=context)
            home = fetch(port, "/", connection=connection)
            cookie = home.cookies[0].split(";")[0]
            token = home.body.split(b'name="__csrf_protection__" value="')[1].split(b'"')[0]
            brewed = fetch(
                port,
                "/brew",
                "POST",
                headers={
                    "Cookie": cookie,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                body=BREW_FORM.format(token.decode()).encode(),
                connection=connection,
            )
            connection.close()
            return home, brewed

        home, brewed = await deferToThread(browse)
        self.assertEqual(home.status, 200)
        self.assertIn(b">ducky</h2>", home.body)
        self.assertEqual(home.headers["Strict-Transport-Security"], "max-age=31536000")
        attributes = home.cookies[0].split("; ")
        self.assertTrue(attributes[0].startswith("Klein-Secure-Session="))
        self.assertIn("Secure", attributes)
        self.assertEqual((brewed.status, brewed.headers["Location"]), (303, "./"))
        self.assertEqual(self.pot.pots[0].state.value, "brewing")

    async def test_an_untrusted_pot_certificate_is_a_502(self) -> None:
        directory = Path(self.mktemp()).absolute()
        pot = self.start_pot(tls_directory=directory / "trust")
        (directory / "empty").mkdir()
        port = self.start_web(f"tls:localhost:{pot}:trustRoots={directory / 'empty'}")
        page = await deferToThread(fetch, port, "/")
        self.assertEqual(page.status, 502)
        self.assertIn(b"certificate was refused", page.body)
        self.assertNotIn(str(directory).encode(), page.body)
        inspected = await deferToThread(fetch, port, "/inspector")
        self.assertIn(f"localhost:{pot}".encode(), inspected.body)
        self.assertNotIn(str(directory).encode(), inspected.body)


class AccessLogTests(SynchronousTestCase):
    def test_only_errors_are_logged(self) -> None:
        site = make_site(Resource())
        lines: list[str] = []
        site.logFile = LineList(lines)
        for code in (200, 303, 304, 404, 503):
            request = DummyRequest([b""])
            request.code, request.sentLength = code, 0
            site.log(request)
        codes = [re.search(r'" (\d{3}) ', line) for line in lines]
        self.assertEqual([found and found[1] for found in codes], ["404", "503"])


@dataclass
class LineList:
    """An access log file that keeps its lines."""

    lines: list[str]

    def write(self, line: str) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing to flush."""
