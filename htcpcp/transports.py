# -*- test-case-name: tests.test_protocol,tests.test_client -*-
"""
The type of the transport a connection's protocol is given, for mypy.

Twisted types C{Protocol.transport} as an optional L{ITransport}, which
has neither flow control nor abort.  The transports these protocols run
on (TCP, and TLS over it) provide all of L{IStreamTransport}: the server's
and the client's protocols declare C{transport: IStreamTransport}, set by
C{makeConnection} before any other event.  A type only: nothing declares
that it provides this interface, and nothing asks at run time.
"""

from __future__ import annotations

from twisted.internet.interfaces import IConsumer, IPushProducer, ITCPTransport

__all__ = ["IStreamTransport"]


class IStreamTransport(ITCPTransport, IConsumer, IPushProducer):
    """A connected stream: writes, closes, aborts, and flow control both ways."""
