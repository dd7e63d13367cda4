"""What each of the pot server's memos buys: ``python benchmarks/memo_costs.py``.

Issue 17 asks that every speed trick be measured alone and dropped where it does not pay. This
counts the instructions a request costs (``valgrind --tool=callgrind``, which repeats exactly
however busy the machine is) with every memo in place, and with each memo turned off alone:

- ``parse-memo``: the request lines, header lines and whole heads a server's parsers remember
  (``htcpcp.message.memo.ParseMemo``);
- ``response-cache``: whole responses kept as bytes for the second of their Date header
  (``htcpcp.response_bytes.ResponseBytes``);
- ``mount``: where a web request sits below the front end's mount point, by prepath, postpath
  length and URI (``htcpcp.web.http.mount.Mount.of``);
- ``is-secure``: whether a web request came over TLS, asked of the channel once a request
  (``htcpcp.web.http.site.LimitedRequest.isSecure``).

Four workloads, each in memory over a ``StringTransport`` (no sockets, no reactor): ``idle-get``
(keep-alive GETs of an idle pot), ``brewing-get`` (keep-alive GETs of a brewing pot, the clock
moving on a millisecond each, so every answer differs), ``connection`` (a connection per GET:
open, request, the client's FIN, close) and ``web-home`` (a browser's first visit to the web front
end's home page through twisted.web's ``HTTPChannel``, the front end reaching an in-memory pot
server). A run of ``--requests`` requests is compared with a run
of none that does the same set-up, so imports and start-up cancel out.

``--inner WORKLOAD MEMO REQUESTS`` is the workload itself, the process callgrind counts.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from twisted.internet.task import Clock

    from htcpcp.service import PotServer

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POT_MEMOS: Final = ("none", "parse-memo", "response-cache")
WORKLOADS: Final = {
    "idle-get": POT_MEMOS,
    "brewing-get": POT_MEMOS,
    "connection": POT_MEMOS,
    "web-home": ("none", "mount", "is-secure"),
}
"""Each workload, and the memos it is counted without (C{none}: every memo in place)."""
MEMOS: Final = ("none", "parse-memo", "response-cache", "mount", "is-secure")
HOME: Final = b"GET / HTTP/1.1\r\nHost: localhost:5031\r\nAccept: text/html\r\n\r\n"
GET: Final = b"GET /pot-0 HTCPCP/1.0\r\nHost: localhost\r\nAccept: */*\r\n\r\n"
"""The lab's GET: HTCPCP/1.0 without keep-alive, so the server closes after it."""
KEPT_GET: Final = GET.replace(b"Accept", b"Connection: keep-alive\r\nAccept")
BREW: Final = (
    b"BREW /pot-0 HTCPCP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n"
    b"Content-Type: message/coffeepot\r\nContent-Length: 5\r\n\r\nstart"
)


def _turn_off(memo: str, server: PotServer) -> None:
    """Make C{memo} of C{server} remember nothing, before its first connection."""
    from htcpcp.cache import BoundedCache
    from htcpcp.message.memo import ParseMemo
    from htcpcp.response_bytes import ResponseBytes

    class Forgetful(BoundedCache):  # type: ignore[type-arg]
        def remember(self, key: object, value: object) -> None:
            pass

    if memo == "parse-memo":
        server.factory.memo = ParseMemo(Forgetful(0), Forgetful(0), Forgetful(0))
    elif memo == "response-cache":
        ResponseBytes.MAX_REMEMBERED_BODY = -1  # type: ignore[misc]
    elif memo == "mount":
        from htcpcp.web.http import mount

        mount._MOUNTS = Forgetful(0)  # type: ignore[misc]
    elif memo == "is-secure":
        from twisted.web.server import Request

        from htcpcp.web.http.site import LimitedRequest

        LimitedRequest.isSecure = Request.isSecure  # type: ignore[method-assign]


def _web_home(server: PotServer, clock: Clock) -> Callable[[], bytes]:
    """A first visit's home page, a connection each, through the front end's own site."""
    from twisted.internet.error import ConnectionDone
    from twisted.internet.testing import StringTransport
    from twisted.python.failure import Failure

    from htcpcp.testing import MemoryPotClient
    from htcpcp.web.frontend import FrontEnd
    from htcpcp.web.http.site import make_site

    client = MemoryPotClient(server, clock)
    front = FrontEnd(client, clock=clock)  # type: ignore[arg-type]
    site = make_site(front.resource())

    def visit() -> bytes:
        transport = StringTransport()
        channel = site.buildProtocol(None)
        channel.makeConnection(transport)
        channel.dataReceived(HOME)
        channel.connectionLost(Failure(ConnectionDone()))
        return transport.value()

    return visit


def inner(workload: str, memo: str, requests: int) -> None:
    """Set up a memory server, then make C{requests} requests of C{workload}."""
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    from htcpcp.testing import MemoryConnection, memory_server

    server, clock = memory_server()
    _turn_off(memo, server)
    connection = MemoryConnection(server)
    connection.exchange(KEPT_GET)
    step: Callable[[], bytes]
    answered = b"HTCPCP/1.0 200 OK"
    if workload == "web-home":
        step = _web_home(server, clock)
        step()
        answered = b"HTTP/1.1 200 OK"
    elif workload == "connection":

        def step() -> bytes:
            other = MemoryConnection(server)
            other.send(GET)
            other.protocol.connectionLost(Failure(ConnectionDone()))
            return other.transport.value()

    else:
        if workload == "brewing-get":
            connection.exchange(BREW)

        def step() -> bytes:
            if workload == "brewing-get":
                clock.advance(0.001)
            connection.transport.clear()
            connection.send(KEPT_GET)
            return connection.transport.value()

    answer = b""
    for _ in range(requests):
        answer = step()
    if requests and not answer.startswith(answered):
        raise RuntimeError(f"the workload was not answered 200: {answer[:80]!r}")


def count(workload: str, memo: str, requests: int) -> int:
    """Instructions callgrind counts for a run of C{inner}."""
    with tempfile.TemporaryDirectory(prefix="memo-costs-") as temp:
        out = Path(temp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--inner",
            workload,
            memo,
            str(requests),
        ]
        environment = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"callgrind printed no total:\n{done.stderr}")
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per counted run")
    parser.add_argument("--inner", nargs=3, metavar=("WORKLOAD", "MEMO", "REQUESTS"))
    args = parser.parse_args()
    if args.inner:
        workload, memo, requests = args.inner
        inner(workload, memo, int(requests))
        return
    print(f"instructions per request ({args.requests} requests, callgrind)")
    titles = ["all on" if memo == "none" else f"{memo} off" for memo in MEMOS]
    print("| workload | " + " | ".join(titles) + " |")
    print("|---" * (len(MEMOS) + 1) + "|")
    for workload, memos in WORKLOADS.items():
        base = count(workload, "none", 0)
        cells = []
        for memo in MEMOS:
            if memo not in memos:
                cells.append("—")
                continue
            per_request = (count(workload, memo, args.requests) - base) / args.requests
            cells.append(f"{per_request:,.0f}")
        print(f"| {workload} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
