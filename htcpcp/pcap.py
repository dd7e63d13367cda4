# -*- test-case-name: tests.test_diagram -*-
"""
A small reader of packet captures (pcap and pcapng, as Wireshark, tshark
and dumpcap write them) that yields the TCP segments in them, for
L{htcpcp.diagram}.  Standard library only, so a diagram needs no Wireshark.

Link types: Ethernet, BSD loopback (macOS C{lo0}), raw IP and Linux cooked
captures (SLL, SLL2); IPv4 and IPv6.  Anything else is skipped.  Limits: a
capture of at most 256 MiB and a million packets.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["CaptureError", "Segment", "read_segments"]

MAX_BYTES: Final = 256 * 1024 * 1024
MAX_PACKETS: Final = 1_000_000

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
ACK: Final = 0x10


class CaptureError(ValueError):
    """A file that is not a capture this reader understands."""


@dataclass(frozen=True)
class Segment:
    """One TCP segment: when, between which endpoints, its flags and payload."""

    number: int
    time: float
    source: tuple[str, int]
    destination: tuple[str, int]
    seq: int
    ack: int
    flags: int
    payload: bytes


def _ip(data: bytes) -> tuple[str, str, int, bytes] | None:
    """Source, destination, protocol and payload of an IPv4 or IPv6 packet."""
    if not data:
        return None
    version = data[0] >> 4
    if version == 4 and len(data) >= 20:
        header = (data[0] & 0x0F) * 4
        total = struct.unpack("!H", data[2:4])[0] or len(data)
        source = str(ipaddress.IPv4Address(data[12:16]))
        destination = str(ipaddress.IPv4Address(data[16:20]))
        return source, destination, data[9], data[header:total]
    if version == 6 and len(data) >= 40:
        length = struct.unpack("!H", data[4:6])[0]
        source = str(ipaddress.IPv6Address(data[8:24]))
        destination = str(ipaddress.IPv6Address(data[24:40]))
        return source, destination, data[6], data[40 : 40 + length]
    return None


def _network_layer(link: int, frame: bytes) -> bytes | None:
    if link == 1:  # Ethernet, with 802.1Q tags
        offset, ethertype = 12, 0
        while offset + 2 <= len(frame):
            ethertype = struct.unpack("!H", frame[offset : offset + 2])[0]
            offset += 2
            if ethertype not in (0x8100, 0x88A8):
                break
            offset += 2
        return frame[offset:] if ethertype in (0x0800, 0x86DD) else None
    if link in (0, 108):  # BSD loopback: a 4-byte address family
        return frame[4:]
    if link in (101, 12, 14):  # raw IP
        return frame
    if link == 113:  # Linux cooked v1
        return frame[16:]
    if link == 276:  # Linux cooked v2
        return frame[20:]
    return None


def _segment(number: int, time: float, link: int, frame: bytes) -> Segment | None:
    network = _network_layer(link, frame)
    packet = _ip(network) if network else None
    if packet is None or packet[2] != 6 or len(packet[3]) < 20:
        return None
    source, destination, _, tcp = packet
    sport, dport, seq, ack, offset_flags = struct.unpack("!HHIIH", tcp[:14])
    header = (offset_flags >> 12) * 4
    return Segment(
        number,
        time,
        (source, sport),
        (destination, dport),
        seq,
        ack,
        offset_flags & 0x3F,
        tcp[header:],
    )


def _pcap_frames(data: bytes) -> Iterator[tuple[float, int, bytes]]:
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack(endian + "IIII", data[offset : offset + 16])
        offset += 16
        yield seconds + fraction / (1e9 if nanos else 1e6), link, data[offset : offset + length]
        offset += length


def _pcapng_frames(data: bytes) -> Iterator[tuple[float, int, bytes]]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []
    offset = 0
    while offset + 12 <= len(data):
        kind = struct.unpack(endian + "I", data[offset : offset + 4])[0]
        if kind == 0x0A0D0D0A:
            endian = "<" if data[offset + 8 : offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        length = struct.unpack(endian + "I", data[offset + 4 : offset + 8])[0]
        if length < 12 or offset + length > len(data):
            raise CaptureError("a pcapng block runs past the end of the file")
        body = data[offset + 8 : offset + length - 4]
        if kind == 1:
            link = struct.unpack(endian + "H", body[:2])[0]
            interfaces.append((link, _resolution(body[8:], endian)))
        elif kind == 6 and len(body) >= 20:
            interface, high, low, captured = struct.unpack(endian + "IIII", body[:16])
            if interface < len(interfaces):
                link, unit = interfaces[interface]
                yield ((high << 32) | low) * unit, link, body[20 : 20 + captured]
        offset += length


def _resolution(options: bytes, endian: str) -> float:
    """Seconds per timestamp unit of an interface (option if_tsresol; else microseconds)."""
    offset = 0
    while offset + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[offset : offset + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            value = options[offset + 4]
            return 2.0 ** -(value & 0x7F) if value & 0x80 else 10.0**-value
        offset += 4 + (length + 3) // 4 * 4
    return 1e-6


def read_segments(path: str | Path) -> list[Segment]:
    """
    Every TCP segment in the capture at C{path}, in capture order.

    @raise CaptureError: when the file is unreadable, too big or not a capture.
    """
    try:
        size = Path(path).stat().st_size
        if size > MAX_BYTES:
            raise CaptureError(f"{path} is over {MAX_BYTES // 2**20} MiB")
        data = Path(path).read_bytes()
    except OSError as error:
        raise CaptureError(f"cannot read {path}: {error.strerror}") from error
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        frames = _pcapng_frames(data)
    elif data[:4] in (
        b"\xd4\xc3\xb2\xa1",
        b"\xa1\xb2\xc3\xd4",
        b"\x4d\x3c\xb2\xa1",
        b"\xa1\xb2\x3c\x4d",
    ):
        frames = _pcap_frames(data)
    else:
        raise CaptureError(f"{path} is not a pcap or pcapng capture")
    segments = []
    try:
        for number, (time, link, frame) in enumerate(frames, start=1):
            if number > MAX_PACKETS:
                raise CaptureError(f"{path} has over {MAX_PACKETS} packets")
            segment = _segment(number, time, link, frame)
            if segment is not None:
                segments.append(segment)
    except struct.error as error:
        raise CaptureError(f"{path} is truncated or damaged") from error
    return segments
