# -*- test-case-name: tests.test_lab_listening -*-
"""
This machine's own names and addresses: what the pot server answers to and
what a generated certificate is valid for, without any configuration.

A classroom reaches the server at its LAN address (C{192.168.1.20}) or its
host name; both must be accepted like C{localhost}.  The addresses are read
from the network interfaces (Linux: C{/proc/net/if_inet6} and the
C{SIOCGIFADDR} ioctl), and from resolving the host name elsewhere, so an
address that only DHCP knows is found too.  They are read once, at start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
from pathlib import Path
from typing import Final

__all__ = ["LOOPBACK_NAMES", "host_names", "interface_addresses", "local_addresses"]

LOOPBACK_NAMES: Final = ("localhost", "localhost.localdomain", "127.0.0.1", "::1")
_IF_INET6: Final = Path("/proc/net/if_inet6")
_SIOCGIFADDR: Final = 0x8915
_MAX_INTERFACES: Final = 256


def _ipv4_of(interface: str) -> str | None:
    import fcntl

    request = struct.pack("256s", interface.encode("utf-8", "replace")[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def _ipv6_from_proc(text: str) -> list[str]:
    found = []
    for line in text.splitlines()[:_MAX_INTERFACES]:
        fields = line.split()
        if len(fields) < 6 or len(fields[0]) != 32:
            continue
        try:
            address = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
        except ValueError:
            continue
        if not address.is_link_local:
            found.append(str(address))
    return found


def interface_addresses() -> list[str]:
    """The IPv4 and IPv6 addresses of this machine's interfaces (link-local ones left out)."""
    found: list[str] = []
    try:
        interfaces = [name for _, name in socket.if_nameindex()][:_MAX_INTERFACES]
    except OSError:
        interfaces = []
    with contextlib.suppress(ImportError):
        for name in interfaces:
            address = _ipv4_of(name)
            if address is not None:
                found.append(address)
    with contextlib.suppress(OSError):
        found += _ipv6_from_proc(_IF_INET6.read_text(encoding="ascii"))
    return found


def _resolved(name: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]).partition("%")[0] for info in infos]


def local_addresses() -> list[str]:
    """Every address of this machine: loopback, interfaces and the host name's."""
    addresses = ["127.0.0.1", "::1", *interface_addresses()]
    for name in (socket.gethostname(), socket.getfqdn()):
        addresses += _resolved(name)
    return list(dict.fromkeys(a.lower() for a in addresses))


def host_names() -> list[str]:
    """This machine's own host names: localhost, its host name and its FQDN."""
    names = ["localhost", socket.gethostname().lower(), socket.getfqdn().lower()]
    return list(dict.fromkeys(n for n in names if n))
