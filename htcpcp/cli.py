# -*- test-case-name: tests.test_cli -*-
"""
The C{htcpcp} command: talk to a coffee pot from a shell.

    htcpcp brew coffee://localhost:5030/pot-0 --add Cream,Whisky
    htcpcp brew tea://localhost:5030/pot-1 --variety earl-grey
    htcpcp get coffee://localhost:5030/pot-0 -v
    htcpcp propfind coffee://localhost:5443/pot-0 --tls --cafile .htcpcp/server-certificate.pem

The exit status is 0 when the pot answered 2xx, 1 when it answered anything
else, 2 for a usage error (a URL that is not a coffee URL too), 3 when it
could not be reached (or answered gibberish), 4 on a timeout and 5 when TLS
verification failed.  Every failure is one line on standard error, never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from htcpcp import __version__, diagram
from htcpcp.check import add_check_command, run_check
from htcpcp.cli_output import as_json, describe
from htcpcp.client import (
    ClientError,
    Exchange,
    InvalidRequest,
    PotClient,
    PotClosed,
    PotTimeout,
    PotTLSError,
)
from htcpcp.log_export import export_log
from htcpcp.message import Response

__all__ = ["EXIT", "build_parser", "describe", "execute", "main"]

EXIT: Final = {
    "ok": 0,
    "refused": 1,
    "usage": 2,
    "unreachable": 3,
    "timeout": 4,
    "tls": 5,
    "internal": 70,
}
"""Exit statuses: 2xx, another status, bad arguments, unreachable, timeout, TLS, a bug."""

_EPILOG: Final = """\
URL is a coffee URL in any RFC 2324 scheme, or tea:// (default port 5030):
  coffee://localhost:5030/pot-0        the coffee pot
  tea://localhost:5030/pot-1           the teapot (brew it with --variety)

examples:
  htcpcp brew coffee://localhost:5030/pot-0 --add Cream,Whisky
  htcpcp brew tea://localhost:5030/pot-1 --variety earl-grey --add Lemon
  htcpcp when coffee://localhost:5030/pot-0        stop the milk pouring
  htcpcp get coffee://localhost:5030/pot-0 --json
  htcpcp log coffee://localhost:5030 --page 2
  htcpcp log coffee://localhost:5030 --csv > history.csv
  htcpcp propfind coffee://localhost:5443/pot-0 --tls --cafile .htcpcp/server-certificate.pem
  htcpcp stop coffee://localhost:5030/pot-0 -v     show the raw exchange, like curl -v

exit status: 0 the pot answered 2xx; 1 it answered something else; 2 usage error;
3 unreachable; 4 timeout; 5 TLS verification failed.
"""

_COMMANDS: Final = {
    "brew": (
        "start a brew (coffee, or tea with --variety)",
        "htcpcp brew coffee://localhost:5030/pot-0 --add Cream,Whisky\n"
        "  htcpcp brew tea://localhost:5030/pot-1 --variety earl-grey --add Lemon",
    ),
    "stop": ("stop the brew in progress", "htcpcp stop coffee://localhost:5030/pot-0"),
    "get": ("show what is in the pot", "htcpcp get coffee://localhost:5030/pot-0 --json"),
    "propfind": (
        "show the pot's properties: additions, varieties, bean",
        "htcpcp propfind tea://localhost:5030/pot-1",
    ),
    "when": (
        "say when: stop the milk pouring",
        "htcpcp when coffee://localhost:5030/pot-0",
    ),
    "log": (
        "show the server's brew history",
        "htcpcp log coffee://localhost:5030 --pot ducky --page 2",
    ),
}
"""Each command's one-line help and examples."""


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _page_number(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the C{htcpcp} command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("url", metavar="URL", help="coffee URL of the pot (or of the server)")
    common.add_argument(
        "-v", "--verbose", action="store_true", help="print the raw request and response"
    )
    common.add_argument(
        "--json", action="store_true", help="print the response as one JSON document"
    )
    common.add_argument(
        "--tls", action="store_true", help="use TLS, verifying the certificate and host name"
    )
    common.add_argument(
        "--cafile",
        metavar="FILE",
        help="PEM file of certificates to trust (implies --tls; default: the system's)",
    )
    common.add_argument(
        "--timeout",
        type=_positive,
        default=10.0,
        metavar="SECONDS",
        help="give up after this long (default 10)",
    )
    parser = argparse.ArgumentParser(
        prog="htcpcp",
        description="Control coffee pots and teapots over HTCPCP (RFC 2324, RFC 7168).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"htcpcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {
        name: commands.add_parser(
            name,
            parents=[common],
            help=text,
            description=text,
            epilog=f"example:\n  {example}\n\nexit status: 0 for a 2xx answer, see htcpcp --help",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        for name, (text, example) in _COMMANDS.items()
    }
    brew = parsers["brew"]
    brew.add_argument(
        "--add",
        metavar="A,B",
        default="",
        help="additions, comma-separated: --add Cream,Whisky",
    )
    brew.add_argument("--variety", help="tea variety, e.g. earl-grey (brews tea)")
    for name in ("brew", "stop"):
        parsers[name].add_argument(
            "--tea",
            action="store_true",
            help="send message/teapot (implied by --variety and by a tea:// URL)",
        )
    log = parsers["log"]
    log.add_argument("--page", type=_page_number, default=1, help="page number (default 1)")
    log.add_argument(
        "--per-page", type=_page_number, default=20, help="brews per page (default 20)"
    )
    log.add_argument("--pot", help="only this pot's brews (by name)")
    log.add_argument(
        "--csv", action="store_true", help="all of the history (or the pot's) as CSV, newest first"
    )
    add_check_command(commands)
    diagram.add_parser(commands)
    return parser


def _send(client: PotClient, options: argparse.Namespace) -> Deferred[Response]:
    url = options.url
    command = options.command
    tea = options.tea if command in ("brew", "stop") else False
    if command in ("brew", "stop") and not tea:
        tea = url.split(":", 1)[0].strip().lower() == "tea"
    if command == "brew":
        additions = [a.strip() for a in options.add.split(",") if a.strip()]
        return client.brew(url, additions, tea=tea, variety=options.variety)
    if command == "stop":
        return client.stop(url, tea=tea)
    if command == "log":
        return client.history(url, options.page, options.per_page, pot=options.pot)
    send: Callable[[str], Deferred[Response]] = getattr(client, command)
    return send(url)


def _error_kind(error: ClientError) -> str:
    if isinstance(error, PotTimeout):
        return "timeout"
    if isinstance(error, PotTLSError):
        return "tls"
    if isinstance(error, InvalidRequest):
        return "usage"
    return "unreachable"


def _trace_message(data: bytes, mark: str, out: TextIO) -> None:
    head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
    for line in head.split("\r\n"):
        out.write(f"{mark}{line}\n")
    out.write(f"{mark.rstrip()}\n")
    if body:
        out.write(body if body.endswith("\n") else body + "\n")


def _trace(exchange: Exchange, out: TextIO) -> None:
    """Print one exchange the way C{curl -v} does, to C{out}."""
    out.write(f"* {exchange.endpoint}\n")
    _trace_message(exchange.request, "> ", out)
    if exchange.response is not None:
        _trace_message(exchange.response, "< ", out)
    if exchange.elapsed is not None:
        out.write(f"* {exchange.elapsed * 1000:.1f} ms\n")


@dataclass(frozen=True)
class _Streams:
    out: TextIO
    err: TextIO


async def _run(options: argparse.Namespace, reactor: Any, streams: _Streams) -> int:
    if options.command == "check":
        return await run_check(options, reactor, streams.out, streams.err)
    exchanges: list[Exchange] = []
    tls = options.tls or options.cafile is not None
    try:
        client = PotClient(
            reactor,
            timeout=options.timeout,
            tls=tls,
            cafile=options.cafile,
            max_idle_per_endpoint=0,
            on_exchange=exchanges.append,
        )
    except ClientError as error:
        streams.err.write(f"htcpcp: {error}\n")
        return EXIT["usage"]
    try:
        if options.command == "log" and options.csv:
            problem = await export_log(client, options.url, options.pot, streams.out)
            if problem is not None:
                streams.err.write(f"htcpcp: {problem}\n")
            return EXIT["ok"] if problem is None else EXIT["refused"]
        response = await _send(client, options)
    except ClientError as error:
        if options.verbose:
            for exchange in exchanges:
                _trace(exchange, streams.err)
        kind = _error_kind(error)
        message = str(error)
        if isinstance(error, PotClosed) and not tls:
            message += " (if that port speaks TLS, add --tls)"
        if options.json:
            streams.out.write(json.dumps({"error": kind, "message": message}) + "\n")
        else:
            streams.err.write(f"htcpcp: {message}\n")
        return EXIT[kind]
    finally:
        await client.close()
    if options.verbose:
        for exchange in exchanges:
            _trace(exchange, streams.err)
    ok, message = describe(options, response)
    if options.json:
        streams.out.write(as_json(response) + "\n")
    elif ok:
        streams.out.write(message + "\n")
    else:
        streams.err.write(f"htcpcp: {message}\n")
    return EXIT["ok"] if ok else EXIT["refused"]


def execute(
    argv: Sequence[str], reactor: Any, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> Deferred[int]:
    """
    Run the command C{argv} (without the program name) on a running C{reactor}.

    @return: a Deferred firing with the exit status; usage errors and
        C{--help} print their text and fire with 2 and 0.
    """
    streams = _Streams(stdout or sys.stdout, stderr or sys.stderr)
    try:
        with contextlib.redirect_stdout(streams.out), contextlib.redirect_stderr(streams.err):
            options = build_parser().parse_args(list(argv))
    except SystemExit as leaving:
        return succeed(leaving.code if isinstance(leaving.code, int) else EXIT["usage"])
    return Deferred.fromCoroutine(_run(options, reactor, streams))


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run the command on the global reactor and return its status."""
    options = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if options.command == "diagram":
        return diagram.run(options)
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner

    globalLogBeginner.beginLoggingTo([], redirectStandardIO=False)
    status: list[int] = []

    def bug(failure: Failure) -> int:
        sys.stderr.write(f"htcpcp: internal error: {failure.getErrorMessage()}\n")
        return EXIT["internal"]

    def start() -> None:
        running = Deferred.fromCoroutine(_run(options, reactor, _Streams(sys.stdout, sys.stderr)))
        running.addErrback(bug)
        running.addCallback(status.append)
        running.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    return status[0]


if __name__ == "__main__":
    sys.exit(main())
