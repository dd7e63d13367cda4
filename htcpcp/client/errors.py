# -*- test-case-name: tests.test_client -*-
"""
What the client raises: always a L{ClientError} whose C{str()} is one line
a person can read.

Non-2xx answers are not errors (they are ordinary responses); these are
for requests that got no usable response at all.
"""

from __future__ import annotations

__all__ = [
    "BadResponse",
    "ClientError",
    "InvalidRequest",
    "PotClosed",
    "PotTLSError",
    "PotTimeout",
    "PotUnreachable",
]


class ClientError(Exception):
    """A request that got no usable response; C{str()} is a one-line explanation."""


class PotUnreachable(ClientError):
    """Refused, unknown host, or the connection was lost before a response."""


class PotTimeout(ClientError):
    """No complete response within the timeout."""


class PotTLSError(ClientError):
    """The server's certificate is untrusted or not valid for its host name."""


class InvalidRequest(ClientError):
    """
    A request that cannot be sent as asked: a target that is not a coffee
    URL or names no host, a bad endpoint string, a header with a line break.
    """


class BadResponse(ClientError):
    """
    The server answered something that is not an HTCPCP response.

    @ivar received: the bytes that arrived, for a protocol inspector.
    """

    def __init__(self, message: str, received: bytes = b"") -> None:
        super().__init__(message)
        self.received = received


class PotClosed(PotUnreachable):
    """The server closed the connection before any of its response arrived."""
