# -*- test-case-name: tests.test_message -*-
"""
Reading a message's head: where it ends, its header lines, and the rules
for the headers that frame a message or name its host.

Shared by the request reader and the response reader; every refusal is a
L{ProtocolError} carrying the status to answer with.
"""

from __future__ import annotations

import re
from typing import Final

from htcpcp.cache import BoundedCache
from htcpcp.message.events import Headers, Limits, ProtocolError
from htcpcp.message.memo import MAX_REMEMBERED_LINE

__all__ = [
    "HEAD_SEARCH_WINDOW",
    "TOKEN",
    "check_expect",
    "check_header_sizes",
    "check_host",
    "content_length",
    "find_head_end",
    "has_bad_bytes",
    "parse_header_lines",
]

HEAD_SEARCH_WINDOW: Final = 2048
"""Bytes searched at first for a head's end; the window doubles until it is found."""

TOKEN: Final = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
"""An RFC 9110 token: a method or a header name."""
_BAD_VALUE_BYTES: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_HOST: Final = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?\Z")


def has_bad_bytes(value: bytes) -> bool:
    """Whether C{value} holds a control character no header value or target may hold."""
    return _BAD_VALUE_BYTES.search(value) is not None


def find_head_end(buffer: bytearray, start: int = 0) -> tuple[int, int] | None:
    """
    Find the blank line that ends a head: where it starts and where it ends.

    Lines end in CRLF or a bare LF, so the head ends at the first LF
    followed by an LF or a CRLF; the blank line starts at the CR before
    that LF, if there is one.  Two searches in C, much cheaper than a
    regular expression for the same thing, made in a window that doubles
    until it holds the end: a buffer of many pipelined requests costs
    what its first head does, not what the whole buffer does.
    """
    size = len(buffer)
    window = HEAD_SEARCH_WINDOW
    while True:
        stop = min(size, start + window)
        bare = buffer.find(b"\n\n", start, stop)
        crlf = buffer.find(b"\n\r\n", start, bare + 3 if bare >= 0 else stop)
        if crlf >= 0 and (bare < 0 or crlf < bare):
            line_feed, end = crlf, crlf + 3
            break
        if bare >= 0:
            line_feed, end = bare, bare + 2
            break
        if stop == size:
            return None
        window *= 2
    if line_feed and buffer[line_feed - 1] == 13:
        return line_feed - 1, end
    return line_feed, end


def check_header_sizes(lines: list[bytes], limits: Limits, version: str) -> None:
    """Refuse header lines (split, line ends removed) over the size limits."""
    if len(lines) > limits.header_count:
        raise ProtocolError(431, f"more than {limits.header_count} header lines", version)
    if sum(len(line) + 1 for line in lines) - 1 > limits.header_bytes:
        raise ProtocolError(431, "the headers are too large", version)
    if any(len(line.rstrip(b"\r")) > limits.header_line for line in lines):
        raise ProtocolError(431, "a header line is too long", version)


def _parse_header_line(line: bytes, version: str) -> tuple[str, str]:
    """Parse one header line (without LF) into a lower-case name and its value."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if line[:1] in (b" ", b"\t"):
        raise ProtocolError(400, "folded header lines are not accepted", version)
    name, sep, value = line.partition(b":")
    if not sep or not TOKEN.match(name):
        raise ProtocolError(400, "malformed header line", version)
    value = value.strip(b" \t")
    if _BAD_VALUE_BYTES.search(value):
        raise ProtocolError(400, "control character in a header value", version)
    return name.decode("ascii").lower(), value.decode("latin-1")


def parse_header_lines(
    lines: list[bytes], version: str, known: BoundedCache[bytes, tuple[str, str]]
) -> dict[str, str]:
    """
    Parse header lines (already split, without line ends) into a dict.

    C{known} remembers what each short line said (see L{ParseMemo}).
    """
    headers: dict[str, str] = {}
    for line in lines:
        field = known.get(line)
        if field is None:
            field = _parse_header_line(line, version)
            if len(line) <= MAX_REMEMBERED_LINE:
                known.remember(line, field)
        key, text = field
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise ProtocolError(400, "conflicting Content-Length headers", version)
            if key == "host":
                raise ProtocolError(400, "more than one Host header", version)
            if key != "content-length":
                text = headers[key] + ", " + text
        headers[key] = text
    return headers


def content_length(value: str, limits: Limits, version: str) -> int:
    """The body length a Content-Length value gives, within L{Limits.body} (else 413)."""
    if not value.isdigit() or not value.isascii():
        raise ProtocolError(400, "Content-Length is not a number", version)
    digits = value.lstrip("0")
    if len(digits) > len(str(limits.body)) or int(digits or "0") > limits.body:
        raise ProtocolError(413, f"bodies are limited to {limits.body} bytes", version)
    return int(digits or "0")


def check_host(headers: Headers, version: str, target: str, answer: str) -> None:
    """
    RFC 9112 section 3.2: a valid Host, and one on every HTTP/1.1 request in origin form.

    A request in absolute form needs none: the lab's clients send
    C{coffee://ducky} without a Host, the one deviation this server makes.
    """
    host = headers.get("host")
    if host is None:
        if version == "HTTP/1.1" and target[:1] in ("/", "*"):
            raise ProtocolError(400, "an HTTP/1.1 request needs a Host header", answer)
    elif not _HOST.match(host):
        raise ProtocolError(400, "the Host header is not host[:port]", answer)


def check_expect(headers: Headers, answer: str) -> bool:
    """Whether the request waits for C{100 Continue}; any other expectation is refused (417)."""
    expect = headers.get("expect")
    if expect is None:
        return False
    if expect.strip().lower() != "100-continue":
        raise ProtocolError(417, "the only expectation this server meets is 100-continue", answer)
    return True
