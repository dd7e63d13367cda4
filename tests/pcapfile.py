"""A small, deterministic pcap writer for the dissector tests (standard library only).

It writes classic libpcap files with raw IPv4 frames (LINKTYPE_RAW) holding TCP segments that
look like a real loopback conversation: a three-way handshake, consistent sequence and
acknowledgement numbers in both directions, a pure ACK after every data segment, a FIN
exchange, and correct IP and TCP checksums.  Every call that sends data produces exactly one
TCP segment, so a test decides where the segment boundaries are.  Timestamps come from a fake
clock that advances a fixed step per packet (plus any explicit :meth:`Capture.wait`), so the
same script always writes the same bytes.

    cap = Capture()
    conv = cap.connect(40000, 5030)
    request = conv.client(b"BREW coffee://ducky/pot-0 HTCPCP/1.1\\r\\n...")
    cap.wait(0.25)
    response = conv.server(b"HTCPCP/1.1 200 OK\\r\\n...")
    conv.close()
    cap.write(path)

``client()`` and ``server()`` return the frame number (1-based, as Wireshark counts) of the
segment they wrote, so tests can assert on exact frames.
"""

from __future__ import annotations

import struct
from pathlib import Path

LINKTYPE_RAW = 101
_PCAP_MAGIC = 0xA1B2C3D4
_SNAPLEN = 262144

_FIN = 0x01
_SYN = 0x02
_PSH = 0x08
_ACK = 0x10


def _checksum(data: bytes) -> int:
    """Return the Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip4(address: str) -> bytes:
    return bytes(int(part) for part in address.split("."))


class Capture:
    """An in-memory list of packets with a deterministic clock."""

    def __init__(self, start: int = 1_700_000_000, step_us: int = 1000) -> None:
        self._now_us = start * 1_000_000
        self._step_us = step_us
        self._ip_id = 0
        self._connections: dict[tuple[str, int, str, int], int] = {}
        self.packets: list[tuple[int, bytes]] = []

    def wait(self, seconds: float) -> None:
        """Advance the clock, e.g. to give a response a visible response time."""
        self._now_us += round(seconds * 1_000_000)

    def connect(
        self,
        client_port: int,
        server_port: int,
        client_ip: str = "127.0.0.1",
        server_ip: str = "127.0.0.1",
    ) -> TcpConversation:
        """Open a TCP connection (three-way handshake) and return it.

        Opening the same address/port pair again (a client reusing its port) starts a new
        connection with other initial sequence numbers, as a real stack would.
        """
        pair = (client_ip, client_port, server_ip, server_port)
        again = self._connections.get(pair, 0)
        self._connections[pair] = again + 1
        return TcpConversation(
            self, (client_ip, client_port), (server_ip, server_port), isn_offset=again * 1_000_000
        )

    def add(self, frame: bytes) -> int:
        """Append one raw IPv4 frame at the current time; return its frame number."""
        self._now_us += self._step_us
        self.packets.append((self._now_us, frame))
        return len(self.packets)

    def next_ip_id(self) -> int:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def to_bytes(self) -> bytes:
        out = [struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_RAW)]
        for stamp_us, frame in self.packets:
            seconds, micros = divmod(stamp_us, 1_000_000)
            out.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
            out.append(frame)
        return b"".join(out)

    def write(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_bytes(self.to_bytes())
        return target


class TcpConversation:
    """One TCP connection inside a :class:`Capture`; each send is exactly one segment."""

    def __init__(
        self,
        capture: Capture,
        client: tuple[str, int],
        server: tuple[str, int],
        isn_offset: int = 0,
    ) -> None:
        self._capture = capture
        self._ends = {"c": client, "s": server}
        # Fixed initial sequence numbers keep the output deterministic.
        self._seq = {"c": 1000 + client[1] + isn_offset, "s": 500000 + server[1] + isn_offset}
        self._segment("c", _SYN, b"", ack=False)
        self._seq["c"] += 1
        self._segment("s", _SYN | _ACK, b"")
        self._seq["s"] += 1
        self._segment("c", _ACK, b"")

    def client(self, data: bytes, ack: bool = True) -> int:
        """Send ``data`` from client to server as one segment; return its frame number."""
        return self._send("c", data, ack)

    def server(self, data: bytes, ack: bool = True) -> int:
        """Send ``data`` from server to client as one segment; return its frame number."""
        return self._send("s", data, ack)

    def lost_server(self, data: bytes) -> None:
        """Send ``data`` from the server without capturing it (a capture that dropped it).

        The sequence numbers move on, and the client's acknowledgement is captured.
        """
        self._lost("s", data)

    def lost_client(self, data: bytes) -> None:
        """Send ``data`` from the client without capturing it; the server's ACK is captured."""
        self._lost("c", data)

    def _lost(self, side: str, data: bytes) -> None:
        self._seq[side] += len(data)
        self._segment("s" if side == "c" else "c", _ACK, b"")

    def close(self, first: str = "c") -> None:
        """Close with FIN/ACK from ``first`` ("c" or "s") and then from the other side."""
        second = "s" if first == "c" else "c"
        for side, other in ((first, second), (second, first)):
            self._segment(side, _FIN | _ACK, b"")
            self._seq[side] += 1
            self._segment(other, _ACK, b"")

    def _send(self, side: str, data: bytes, ack: bool) -> int:
        frame = self._segment(side, _PSH | _ACK, data)
        self._seq[side] += len(data)
        if ack:
            self._segment("s" if side == "c" else "c", _ACK, b"")
        return frame

    def _segment(self, side: str, flags: int, payload: bytes, ack: bool = True) -> int:
        other = "s" if side == "c" else "c"
        (src_ip, src_port), (dst_ip, dst_port) = self._ends[side], self._ends[other]
        src, dst = _ip4(src_ip), _ip4(dst_ip)
        ack_number = self._seq[other] if ack else 0
        tcp = struct.pack(
            "!HHIIBBHHH",
            src_port,
            dst_port,
            self._seq[side] & 0xFFFFFFFF,
            ack_number & 0xFFFFFFFF,
            5 << 4,
            flags,
            65535,
            0,
            0,
        )
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        checksum = _checksum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", checksum) + tcp[18:]
        total_length = 20 + len(tcp) + len(payload)
        header = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            total_length,
            self._capture.next_ip_id(),
            0x4000,
            64,
            6,
            0,
            src,
            dst,
        )
        header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
        return self._capture.add(header + tcp + payload)
