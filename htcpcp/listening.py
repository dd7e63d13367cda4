# -*- test-case-name: tests.test_lab_listening -*-
"""
Server endpoints of the pot server and the web front end, from endpoint
strings.

Rules, written down in docs/classroom.md:

  - C{tcp:PORT} and C{ssl:PORT} without C{interface=} listen on every IPv4
    and IPv6 address at once (one C{::} socket with C{IPV6_V6ONLY} off, or
    C{0.0.0.0} where the machine has no IPv6), so C{localhost} works whether
    a browser tries C{::1} or C{127.0.0.1} first.
  - With C{interface=} they listen exactly there (C{tcp:5030:interface=127.0.0.1}
    is IPv4 only); C{tcp6:} is Twisted's, as given; other kinds (C{unix:},
    C{systemd:}, ...) are Twisted's endpoint strings unchanged.
  - C{ssl:} servers get the hardened options of L{htcpcp.tls.server_options}
    (TLS 1.2 with ECDHE and AEAD only, TLS 1.3) and, if asked, a key log.

The log says where each one listens, once it does.
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Final

from twisted.application.internet import StreamServerEndpointService
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ServerEndpoint,
    TCP6ServerEndpoint,
    serverFromString,
)
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IProtocolFactory, IStreamServerEndpoint
from twisted.internet.ssl import CertificateOptions
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface import implementer

from htcpcp.endpoint_strings import endpoint_fields
from htcpcp.tls import KeyLog, server_options

__all__ = [
    "DualStackServerEndpoint",
    "cannot_listen",
    "endpoint_fields",
    "listening_service",
    "probe",
    "server_endpoint",
    "where",
]

_TCP_OPTIONS: Final = frozenset({"port", "interface", "backlog"})
_SSL_OPTIONS: Final = _TCP_OPTIONS | {"privateKey", "certKey", "extraCertChain"}

log = Logger()


@implementer(IStreamServerEndpoint)
class DualStackServerEndpoint:
    """
    Listens on every IPv4 and IPv6 address with one socket (C{::}, with
    C{IPV6_V6ONLY} off), or on C{0.0.0.0} where IPv6 is missing.

    @param tls: TLS options, for a TLS server.
    """

    def __init__(
        self,
        reactor: Any,
        port: int,
        backlog: int = 50,
        tls: CertificateOptions | None = None,
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._backlog = backlog
        self._tls = tls

    def _socket(self) -> tuple[socket.socket, int, str]:
        try:
            listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        except OSError:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM), socket.AF_INET, "0.0.0.0"
        try:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        except OSError:
            listener.close()
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM), socket.AF_INET, "0.0.0.0"
        return listener, socket.AF_INET6, "::"

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        listener, family, address = self._socket()
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, self._port))
            listener.listen(self._backlog)
            listener.setblocking(False)
            factory = protocolFactory
            if self._tls is not None:
                factory = TLSMemoryBIOFactory(self._tls, False, protocolFactory)
            port = self._reactor.adoptStreamPort(listener.fileno(), family, factory)
        except OSError as error:
            return fail(CannotListenError(address, self._port, error))
        finally:
            listener.close()
        return succeed(port)


def _port_number(description: str, positional: list[str], keywords: dict[str, str]) -> int:
    text = keywords.get("port") or (positional[0] if positional else "")
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f"{description!r}: the port must be a number from 0 to 65535")
    return int(text)


def server_endpoint(
    reactor: Any, description: str, keylog: KeyLog | None = None
) -> IStreamServerEndpoint:
    """
    The server endpoint C{description} stands for (see the module's rules).

    @raise ValueError: for a malformed C{tcp:}/C{ssl:} string, an option
        this suite does not take, or unreadable key files.
    """
    kind, positional, keywords = endpoint_fields(description)
    if kind not in ("tcp", "ssl"):
        other: IStreamServerEndpoint = serverFromString(reactor, description)
        return other
    allowed = _SSL_OPTIONS if kind == "ssl" else _TCP_OPTIONS
    unknown = sorted(set(keywords) - allowed)
    if unknown or len(positional) > 1:
        extra = ", ".join(unknown) or positional[1]
        takes = ", ".join(sorted(allowed))
        raise ValueError(f"{description!r}: {extra} is not an option of {kind}: (it takes {takes})")
    port = _port_number(description, positional, keywords)
    backlog = int(keywords["backlog"]) if keywords.get("backlog", "").isdigit() else 50
    interface = keywords.get("interface")
    tls = None
    if kind == "ssl":
        if "privateKey" not in keywords:
            raise ValueError(f"{description!r}: an ssl: endpoint needs privateKey=FILE")
        tls = server_options(
            keywords["privateKey"], keywords.get("certKey"), keywords.get("extraCertChain"), keylog
        )
    if interface is None:
        return DualStackServerEndpoint(reactor, port, backlog, tls)
    if tls is not None:
        return SSL4ServerEndpoint(reactor, port, tls, backlog, interface)
    if ":" in interface:
        return TCP6ServerEndpoint(reactor, port, backlog, interface)
    return TCP4ServerEndpoint(reactor, port, backlog, interface)


def where(port: IListeningPort) -> str:
    """Where a listening port listens, in words for the log."""
    host = port.getHost()
    address = getattr(host, "host", None)
    number = getattr(host, "port", None)
    if address == "::":
        return f"every IPv4 and IPv6 address, port {number}"
    if address in ("0.0.0.0", ""):
        return f"every IPv4 address, port {number}"
    if address is None:
        return str(host)
    return f"[{address}]:{number}" if ":" in address else f"{address}:{number}"


class _ListeningService(StreamServerEndpointService):
    """Listens at start, failing at once (for twistd to report) when it cannot."""

    def __init__(self, endpoint: IStreamServerEndpoint, factory: IProtocolFactory, what: str):
        super().__init__(endpoint, factory)
        self._raiseSynchronously = True
        self._what = what

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        listening = self._waitingForPort
        assert listening is not None, "privilegedStartService starts listening"
        listening.addCallback(self._announce)

    def _announce(self, port: IListeningPort) -> IListeningPort:
        log.info("{what} listens on {where}", what=self._what, where=where(port))
        return port


def listening_service(
    description: str,
    factory: IProtocolFactory,
    what: str,
    keylog: KeyLog | None = None,
    reactor: Any = None,
) -> StreamServerEndpointService:
    """
    A service listening on C{description} with C{factory}; the log calls it C{what}.

    @raise ValueError: see L{server_endpoint}.
    """
    if reactor is None:
        from twisted.internet import reactor
    service = _ListeningService(server_endpoint(reactor, description, keylog), factory, what)
    service.setName(description)
    return service


def probe(description: str) -> None:
    """
    Check that a C{tcp:} or C{ssl:} server endpoint could listen now, by
    binding its address for a moment (other kinds are not checked).

    @raise CannotListenError: when the port is taken or the address is not ours.
    """
    kind, positional, keywords = endpoint_fields(description)
    if kind not in ("tcp", "ssl"):
        return
    try:
        port = _port_number(description, positional, keywords)
    except ValueError:
        return
    interface = keywords.get("interface")
    if interface is None:
        listener, _, address = DualStackServerEndpoint(None, port)._socket()
    else:
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        listener, address = socket.socket(family, socket.SOCK_STREAM), interface
    with listener:
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
        except OSError as error:
            raise CannotListenError(address, port, error) from error


def cannot_listen(error: CannotListenError) -> str:
    """One line saying why a server could not listen, and what to do."""
    reason = error.socketError
    address = "every address" if error.interface in ("", "::", "0.0.0.0") else error.interface
    strerror = getattr(reason, "strerror", None) or str(reason)
    advice = ""
    if getattr(reason, "errno", None) == errno.EADDRINUSE:
        advice = ": another server is using it (stop it, or choose another port)"
    elif getattr(reason, "errno", None) == errno.EACCES:
        advice = ": ports below 1024 need privileges (choose a port above 1024)"
    return f"cannot listen on port {error.port} of {address}: {strerror}{advice}"
