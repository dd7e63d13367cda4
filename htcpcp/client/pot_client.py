# -*- test-case-name: tests.test_client -*-
"""
L{PotClient}: HTCPCP requests to pot servers, a Deferred API over coffee URLs.

    client = PotClient(timeout=5.0)
    response = await client.brew("coffee://localhost:5030/pot-0", ["Cream", "Whisky"])
    print(response.status, response.body)
    await client.close()

Non-2xx answers are ordinary L{Response}s; only a pot that cannot be
reached (L{PotUnreachable}), does not answer in time (L{PotTimeout}), fails
TLS verification (L{PotTLSError}) or answers gibberish (L{BadResponse})
raises, always a L{ClientError} whose C{str()} is one line a person can read.

Responses are framed by Content-Length, chunked coding or, as the lab's
original server does, by the server closing the connection.  A connection
goes back to the pool only when its response was framed, the server agreed
to keep it open and nothing extra arrived; a cancelled or timed-out request
aborts its connection.  A request on a pooled connection that the server
had closed meanwhile is sent again on a fresh one if it is safe (GET, HEAD,
PROPFIND, OPTIONS); BREW and WHEN are never sent twice.

Two options serve teaching: C{connections="per-request"} opens a new
connection for every request and closes it after the response (so each
exchange shows its own TCP handshake and client port, as the lab's web app
does), and C{dialect="lab"} writes requests as the lab's app does
(L{htcpcp.labdialect}).  C{keylog} records the TLS secrets for Wireshark.

TLS verification is on whenever TLS is used (L{htcpcp.client.tls}).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.endpoints import HostnameEndpoint, clientFromString, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.client.commands import PotCommands
from htcpcp.client.errors import ClientError, InvalidRequest, PotClosed, PotTimeout
from htcpcp.client.pool import ConnectionPool, Route
from htcpcp.client.protocol import HTCPCPClientProtocol
from htcpcp.client.tls import load_trust_root
from htcpcp.endpoint_strings import endpoint_authority
from htcpcp.labdialect import LAB_SERVER_NAME, lab_request, pot_names_of
from htcpcp.message import Response, serialize_request
from htcpcp.tls import KeyLog, client_tls_options, tls_client_endpoint
from htcpcp.urls import TargetError, parse_target
from htcpcp.vocabulary import SAFE_METHODS

__all__ = ["CONNECTIONS", "DEFAULT_PORT", "DIALECTS", "Exchange", "PotClient", "Wire"]

DEFAULT_PORT: Final = 5030
"""The port a coffee URL without one names."""
DIALECTS: Final = ("rfc", "lab")
"""How requests are written: RFC 2324 as this suite sends it, or as the lab's app does."""
CONNECTIONS: Final = ("pooled", "per-request")
"""Keep-alive connections reused from a pool, or a new connection for every request."""
_IP_ADDRESSES: Final = (IPv4Address, IPv6Address)

log = Logger()


@dataclass(frozen=True)
class Wire:
    """
    The TCP connection an exchange travelled on, as the client saw it.

    @ivar local: the client's (address, port).
    @ivar remote: the server's (address, port).
    @ivar opened: a new connection was made for this exchange (its handshake).
    @ivar sent: when the request was written, in the reactor's seconds.
    @ivar closed: the client closed the connection after this exchange.
    """

    local: tuple[str, int]
    remote: tuple[str, int]
    opened: bool
    sent: float
    closed: bool = True


@dataclass(frozen=True)
class Exchange:
    """
    One request and what came back, as reported to C{on_exchange}.

    @ivar endpoint: where it was sent (an endpoint string or C{host:port}).
    @ivar request: the bytes sent.
    @ivar response: the raw response bytes, or C{None} when none arrived.
    @ivar status: the response's status code, or C{None}.
    @ivar started: when the request started, in the reactor's seconds.
    @ivar elapsed: seconds until the response or the error.
    @ivar error: the one-line error, or C{None} when a response arrived.
    @ivar wire: the connection it went on, or C{None} when none was made.
    """

    endpoint: str
    request: bytes
    response: bytes | None
    status: int | None
    started: float
    elapsed: float | None
    error: str | None
    wire: Wire | None = None


_UNSENDABLE = re.compile(r"[\x00-\x20\x7f]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_BREAK = re.compile(r"[\x00\r\n]")


def _authority(host: str, port: int | str | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


class PotClient(PotCommands):
    """
    Sends HTCPCP requests to pot servers over pooled keep-alive connections.

    @param reactor: the reactor (the global one by default).
    @param endpoint: a client endpoint string every request goes to; without
        it each request goes to its coffee URL's host and port (5030 by
        default).
    @param timeout: seconds each request (connecting included) may take.
    @param tls: wrap connections in TLS, verifying the server's certificate
        and host name.
    @param cafile: a PEM file of the certificates to trust for TLS; without
        it the platform's trust store.
    @param max_idle_per_endpoint: idle connections kept per destination.
    @param idle_timeout: seconds an idle connection is kept.
    @param on_exchange: called with an L{Exchange} after every request.
    @param connections: C{"pooled"} (keep-alive connections reused) or
        C{"per-request"} (a new connection for every request, closed after it).
    @param dialect: C{"rfc"}, or C{"lab"} to write requests as the lab's web
        app does (L{htcpcp.labdialect}; no C{Host}, no C{Content-Length}).
    @param keylog: records the TLS secrets of every connection.
    @raise PotTLSError: if C{cafile} cannot be read.
    @raise InvalidRequest: for an unknown C{connections} or C{dialect}.
    """

    def __init__(
        self,
        reactor: Any = None,
        *,
        endpoint: str | None = None,
        timeout: float = 10.0,
        tls: bool = False,
        cafile: str | None = None,
        max_idle_per_endpoint: int = 4,
        idle_timeout: float = 30.0,
        on_exchange: Callable[[Exchange], object] | None = None,
        connections: str = "pooled",
        dialect: str = "rfc",
        keylog: KeyLog | None = None,
    ) -> None:
        if connections not in CONNECTIONS:
            raise InvalidRequest(f"connections must be one of {', '.join(CONNECTIONS)}")
        if dialect not in DIALECTS:
            raise InvalidRequest(f"dialect must be one of {', '.join(DIALECTS)}")
        if connections == "per-request":
            max_idle_per_endpoint = 0
        self.dialect = dialect
        self._keylog = keylog
        self._pot_names: dict[str, str] = {}
        if reactor is None:
            from twisted.internet import reactor
        self._reactor = reactor
        self._endpoint = endpoint
        self._timeout = timeout
        self._tls = tls
        self._trust = load_trust_root(cafile) if cafile else None
        self._on_exchange = on_exchange
        self.pool = ConnectionPool(reactor, max_idle_per_endpoint, idle_timeout)
        self._endpoints: dict[str, IStreamClientEndpoint] = {}
        self._base_endpoint: IStreamClientEndpoint | None = None
        self._wrap_endpoint = False
        if endpoint is not None:
            kind = endpoint.split(":", 1)[0].strip().lower()
            try:
                if keylog is not None and kind == "tls":
                    self._base_endpoint = tls_client_endpoint(reactor, endpoint, keylog)
                else:
                    self._base_endpoint = clientFromString(reactor, endpoint)
            except (ValueError, TypeError, KeyError) as error:
                raise InvalidRequest(f"{endpoint!r} is not a client endpoint: {error}") from error
            self._wrap_endpoint = tls and endpoint.split(":", 1)[0].lower() not in ("tls", "ssl")

    def _route(self, target: str | None) -> Route:
        url_host: str | None = None
        url_port: int | None = None
        if target is not None:
            if _UNSENDABLE.search(target):
                raise InvalidRequest(f"{target!r} has spaces or control characters in it")
            try:
                parsed = parse_target(target)
            except TargetError as error:
                raise InvalidRequest(f"{target!r} is not a coffee URL: {error.detail}") from error
            url_host, url_port = parsed.host, parsed.port
        if self._endpoint is not None:
            host, port = endpoint_authority(self._endpoint)
            hostname = url_host or host
            header = _authority(url_host, url_port) if url_host else _authority(host, port)
            key = where = self._endpoint
            if self._wrap_endpoint:
                key = f"{self._endpoint} (TLS for {hostname})"
        elif url_host:
            hostname = url_host
            header = _authority(url_host, url_port)
            where = _authority(url_host, url_port or DEFAULT_PORT)
            key = f"{'tls' if self._tls else 'tcp'}:{where}"
        else:
            raise InvalidRequest(
                f"{target!r} names no host: give a coffee URL such as"
                f" coffee://localhost:{DEFAULT_PORT}/pot-0"
            )
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            endpoint = self._endpoints[key] = self._make_endpoint(hostname, url_port)
        return Route(key, where, hostname, header, endpoint)

    def _make_endpoint(self, hostname: str, port: int | None) -> IStreamClientEndpoint:
        if self._base_endpoint is not None:
            if not self._wrap_endpoint:
                return self._base_endpoint
            endpoint = self._base_endpoint
        else:
            endpoint = HostnameEndpoint(self._reactor, hostname, port or DEFAULT_PORT)
            if not self._tls:
                return endpoint
        return wrapClientTLS(client_tls_options(hostname, self._trust, self._keylog), endpoint)

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Deferred[Response]:
        """
        Send one request and fire with its response, whatever its status.

        C{target} is a coffee URL (any RFC 2324 scheme, or C{tea://}) or, with
        an C{endpoint}, an origin-form path such as C{/pot-1/earl-grey}.  It is
        sent as given, with C{Host} added unless C{headers} has one; in the
        lab dialect it is rewritten as the lab's app writes it.
        """
        try:
            route = self._route(target)
            for name, value in headers:
                if not _HEADER_NAME.match(name) or _HEADER_BREAK.search(value):
                    raise InvalidRequest(f"the header {name!r}: {value!r} cannot be sent")
        except ClientError as error:
            return fail(error)
        if self.dialect == "lab":
            data = lab_request(method, target, headers, body, LAB_SERVER_NAME, self._pot_names)
        else:
            if not any(name.lower() == "host" for name, _ in headers):
                headers = [("Host", route.host_header), *headers]
            data = serialize_request(method, target, headers, body)
        return self._send(
            route, data, head=method == "HEAD", safe=method in SAFE_METHODS, fresh=False
        )

    def send_raw(self, data: bytes, endpoint_target: str | None = None) -> Deferred[Response]:
        """
        Write C{data} as it is on a fresh connection and read one response.

        For showing how a server answers malformed requests.  The connection
        goes to C{endpoint_target}'s host (a coffee URL) or to the configured
        endpoint, and is closed afterwards.
        """
        try:
            route = self._route(endpoint_target)
        except ClientError as error:
            return fail(error)
        head = data.split(b" ", 1)[0] == b"HEAD"
        return self._send(route, data, head=head, safe=False, fresh=True)

    def close(self) -> Deferred[None]:
        """Close the pooled connections; fires when they are closed."""
        return self.pool.close()

    def _send(
        self, route: Route, data: bytes, *, head: bool, safe: bool, fresh: bool
    ) -> Deferred[Response]:
        started = self._reactor.seconds()
        wires: list[Wire] = []
        sending = Deferred.fromCoroutine(
            self._exchange(route, data, wires, head=head, safe=safe, fresh=fresh)
        )
        sending.addTimeout(self._timeout, self._reactor, self._timed_out(route))
        if self.dialect == "lab":
            sending.addCallback(self._learn_name, data)
        if self._on_exchange is not None:
            sending.addBoth(self._report, route, data, started, wires)
        return sending

    def _timed_out(self, route: Route) -> Callable[[Any, float], Any]:
        def translate(result: Any, timeout: float) -> Any:
            if isinstance(result, Failure) and result.check(CancelledError):
                return Failure(PotTimeout(f"no answer from {route.where} within {timeout:g} s"))
            return result

        return translate

    async def _exchange(
        self, route: Route, data: bytes, wires: list[Wire], *, head: bool, safe: bool, fresh: bool
    ) -> Response:
        """Send C{data} and read its response, noting each connection used in C{wires}."""
        protocol, reused = await self.pool.acquire(route, fresh=fresh)
        self._note_wire(wires, protocol, reused=reused)
        try:
            response = await protocol.request(data, head=head)
        except PotClosed:
            if not (reused and safe):
                raise
            protocol, _ = await self.pool.acquire(route, fresh=True)
            self._note_wire(wires, protocol, reused=False)
            response = await protocol.request(data, head=head)
        kept = False
        if fresh:
            protocol.transport.loseConnection()
        else:
            kept = self.pool.release(route.key, protocol)
        if wires:
            wires[-1] = replace(wires[-1], closed=not kept)
        return response

    def _note_wire(
        self, wires: list[Wire], protocol: HTCPCPClientProtocol, *, reused: bool
    ) -> None:
        """Add the connection C{protocol} is on to C{wires}, when it has IP addresses."""
        local, remote = protocol.transport.getHost(), protocol.transport.getPeer()
        if isinstance(local, _IP_ADDRESSES) and isinstance(remote, _IP_ADDRESSES):
            ends = (local.host, local.port), (remote.host, remote.port)
            wires.append(Wire(*ends, opened=not reused, sent=self._reactor.seconds()))

    def _learn_name(self, response: Response, data: bytes) -> Response:
        """Remember the pot names a PROPFIND or the list of pots gave, for C{Use-Pot}."""
        if response.status == 200 and data.startswith((b"PROPFIND ", b"GET ")):
            for index, name in pot_names_of(response.body):
                self._pot_names[f"pot-{index}"] = name
        return response

    def _report(
        self, result: Any, route: Route, data: bytes, started: float, wires: list[Wire]
    ) -> Any:
        assert self._on_exchange is not None
        elapsed = self._reactor.seconds() - started
        wire = wires[-1] if wires else None
        if isinstance(result, Response):
            exchange = Exchange(
                route.key, data, result.raw, result.status, started, elapsed, None, wire
            )
        else:
            received = getattr(result.value, "received", None) or None
            exchange = Exchange(
                route.key, data, received, None, started, elapsed, str(result.value), wire
            )
        try:
            self._on_exchange(exchange)
        except Exception:
            log.failure("on_exchange failed")
        return result
