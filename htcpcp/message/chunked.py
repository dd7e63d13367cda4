# -*- test-case-name: tests.test_message -*-
"""
The chunked transfer coding (RFC 9112 section 7.1), decoded incrementally.

Used for request bodies by the request reader and for response bodies by
the response reader; sizes are bounded by the same L{Limits} as the rest
of the message.
"""

from __future__ import annotations

import re
from typing import Final

from htcpcp.message.events import Limits, ProtocolError

__all__ = ["MAX_CHUNK_LINE", "ChunkedBody"]

MAX_CHUNK_LINE: Final = 256
"""Longest chunk-size line (size and extensions), in bytes."""
_CHUNK_SIZE: Final = re.compile(rb"0*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\Z")


class ChunkedBody:
    """
    Incremental decoder for a chunked body.

    Trailer lines are read and dropped, within the limits of header lines
    (L{Limits.header_line}, L{Limits.header_bytes}, L{Limits.header_count}).
    The bytes it consumes are kept in L{raw} when asked for (a client
    showing the exchange).
    """

    def __init__(self, limits: Limits, version: str, *, keep_raw: bool = False) -> None:
        self._limits = limits
        self._version = version
        self._remaining = -1
        self._in_trailers = False
        self._trailer_lines = 0
        self._trailer_bytes = 0
        self.body = bytearray()
        self.raw: bytearray | None = bytearray() if keep_raw else None

    def _take(self, buffer: bytearray, count: int) -> bytes:
        taken = bytes(buffer[:count])
        del buffer[:count]
        if self.raw is not None:
            self.raw += taken
        return taken

    def feed(self, buffer: bytearray) -> bool:
        """Consume what it can from C{buffer}; C{True} once the body is complete."""
        while True:
            if self._remaining > 0:
                take = min(self._remaining, len(buffer))
                if not take:
                    return False
                self.body += self._take(buffer, take)
                self._remaining -= take
                continue
            end = buffer.find(b"\n")
            line_end = len(buffer) if end < 0 else end
            self._check_line_length(line_end - (buffer[line_end - 1 : line_end] == b"\r"))
            if end < 0:
                return False
            line = self._take(buffer, end + 1)[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if self._in_trailers:
                if not line:
                    return True
                self._count_trailer(line)
                continue
            if self._remaining == 0:
                if line:
                    raise ProtocolError(400, "chunk data does not end with CRLF", self._version)
                self._remaining = -1
                continue
            self._chunk_size(line)

    def _check_line_length(self, length: int) -> None:
        if self._in_trailers:
            if length > self._limits.header_line:
                raise ProtocolError(431, "a trailer line is too long", self._version)
        elif length > MAX_CHUNK_LINE:
            raise ProtocolError(400, "chunk size line too long", self._version)

    def _count_trailer(self, line: bytes) -> None:
        limits = self._limits
        self._trailer_lines += 1
        self._trailer_bytes += len(line) + 2
        if self._trailer_lines > limits.header_count:
            raise ProtocolError(
                431, f"more than {limits.header_count} trailer lines", self._version
            )
        if self._trailer_bytes > limits.header_bytes:
            raise ProtocolError(431, "the trailers are too large", self._version)

    def _chunk_size(self, line: bytes) -> None:
        match = _CHUNK_SIZE.match(line)
        if match is None:
            raise ProtocolError(400, "malformed chunk size", self._version)
        digits = match.group(1)
        limit = self._limits.body - len(self.body)
        if len(digits) > 16 or int(digits, 16) > limit:
            raise ProtocolError(
                413, f"bodies are limited to {self._limits.body} bytes", self._version
            )
        size = int(digits, 16)
        if size == 0:
            self._in_trailers = True
        else:
            self._remaining = size
