# -*- test-case-name: tests.test_check -*-
"""
The C{htcpcp check} subcommand: its arguments, and a run from them to the
console and the report files.

    htcpcp check coffee://localhost:5030 --profile lab
    htcpcp check coffee://localhost:5443 --profile all --tls --cafile cert.pem --junit report.xml

Exit status: 0 when no case failed (warnings allowed), 1 when one did, 2 for
a usage error, 3 when the server could not be reached at all.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Final, TextIO

from htcpcp.check.context import Settings
from htcpcp.check.report import case_line, details, json_report, junit_report, summary
from htcpcp.check.runner import PROFILES, run_cases, select_cases, wait_until_reachable
from htcpcp.check.wire import ServerAddress, TLSSettings
from htcpcp.client import ClientError

__all__ = ["DEFAULT_PORT", "add_check_command", "parse_server_url", "run_check"]

DEFAULT_PORT: Final = 5030
"""The lab's pot port, used when the URL names none."""

CHECK_EXIT: Final = {"passed": 0, "failed": 1, "usage": 2, "unreachable": 3}

_URL: Final = re.compile(
    r"(?:[^:/?#\s]+://)?(\[[0-9A-Fa-f:.]+\]|[^:/?#\s\[\]]+)(?::(\d{1,5}))?(/[^\s]*)?\Z"
)

_EPILOG: Final = """\
profiles:
  lab       the networking lab's checkoff: its web app's exact requests
  rfc2324   HTCPCP/1.0 with its errata: methods, media types, additions, the 23 schemes, 418
  rfc7168   HTCPCP-TEA: 300 and Alternates, varieties, stop, Sugar, 403/503
  http      HTTP/1.1 framing: lengths, chunked, keep-alive, pipelining, HEAD, Host, 501, 505
  all       every profile (the default)

Each case prints PASS, FAIL (a MUST broken) or WARN (a SHOULD broken); a FAIL shows
the bytes sent and received. Exit status 0 only when nothing failed. See docs/check.md.
"""


def _seconds_argument(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError("must be between 0 and 600 seconds")
    return value


def _path(text: str) -> str:
    if not text.startswith("/") or re.search(r"[\x00-\x20\x7f]", text):
        raise argparse.ArgumentTypeError("must be a path starting with / (no spaces)")
    return text


def add_check_command(commands: Any) -> None:
    """Add the C{check} subcommand to the C{htcpcp} command's subparsers."""
    check = commands.add_parser(
        "check",
        help="check a pot server's conformance (lab, RFC 2324, RFC 7168, HTTP)",
        description="Run numbered conformance cases against any HTCPCP server, like h2spec.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "url", metavar="URL", help="the server: coffee://host[:port][/pot] (port 5030 by default)"
    )
    check.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    check.add_argument(
        "--tls", action="store_true", help="connect with TLS (verified unless --insecure)"
    )
    trust = check.add_mutually_exclusive_group()
    trust.add_argument("--cafile", metavar="FILE", help="PEM certificates to trust (implies --tls)")
    trust.add_argument(
        "--insecure", action="store_true", help="TLS without verifying the certificate"
    )
    check.add_argument(
        "--only", metavar="PATTERN", help="run the cases whose id or name matches (lab/1*,*406*)"
    )
    check.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    check.add_argument("--json", metavar="FILE", help="write a JSON report with every transcript")
    check.add_argument(
        "--coffee",
        metavar="PATH",
        type=_path,
        help="the coffee pot's path (default /pot-0, or the URL's)",
    )
    check.add_argument(
        "--teapot",
        metavar="PATH",
        type=_path,
        default="/pot-1",
        help="the teapot's path (default /pot-1)",
    )
    check.add_argument(
        "--restart-wait", metavar="S", type=_seconds_argument, default=0.0,
        help="when the server goes down, wait this long for it to come back (default 0: stop)",
    )  # fmt: skip
    check.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds_argument,
        default=3.0,
        help="seconds per connection (default 3)",
    )
    check.add_argument(
        "--brew-wait",
        metavar="S",
        type=_seconds_argument,
        default=40.0,
        help="longest wait for a brew to end (default 40)",
    )


def parse_server_url(url: str) -> tuple[str, int, str, str | None]:
    """C{(host, port, authority, path)} of C{url}; C{ValueError} if it names no host."""
    found = _URL.match(url.strip())
    if found is None:
        raise ValueError(f"{url!r} is not a URL such as coffee://localhost:5030")
    host, port, path = found.group(1), found.group(2), found.group(3)
    number = int(port) if port else DEFAULT_PORT
    if not 0 < number < 65536:
        raise ValueError(f"{port} is not a port number")
    authority = f"{host}:{port}" if port else host
    return host.strip("[]"), number, authority, path if path not in (None, "/") else None


def _settings(options: argparse.Namespace) -> Settings:
    host, port, authority, path = parse_server_url(options.url)
    tls = None
    if options.tls or options.cafile or options.insecure:
        tls = TLSSettings(host, options.cafile, options.insecure)
        tls.creator()
    return Settings(
        ServerAddress(host, port, tls),
        authority,
        options.coffee or path or "/pot-0",
        options.teapot,
        options.timeout,
        options.brew_wait,
    )


async def run_check(options: argparse.Namespace, reactor: Any, out: TextIO, err: TextIO) -> int:
    """Run C{htcpcp check} with parsed C{options}; return the exit status."""
    try:
        settings = _settings(options)
    except (ValueError, ClientError) as error:
        err.write(f"htcpcp check: {error}\n")
        return CHECK_EXIT["usage"]
    cases = select_cases(options.profile, options.only)
    if not cases:
        err.write(f"htcpcp check: no case matches {options.only!r}\n")
        return CHECK_EXIT["usage"]
    where = f"{settings.server.host}:{settings.server.port}"
    if not await wait_until_reachable(reactor, settings, options.restart_wait):
        err.write(f"htcpcp check: cannot connect to {where}\n")
        return CHECK_EXIT["unreachable"]
    out.write(
        f"htcpcp check {options.url} ({where}{', TLS' if settings.server.tls else ''}):"
        f" {len(cases)} cases\n"
    )
    started = reactor.seconds()

    def show(result: Any) -> None:
        out.write("\n".join([case_line(result), *details(result)]) + "\n")
        out.flush()

    results = await run_cases(reactor, cases, settings, options.restart_wait, show)
    elapsed = reactor.seconds() - started
    out.write(summary(results, elapsed) + "\n")
    if options.junit:
        Path(options.junit).write_bytes(junit_report(results, options.url, elapsed))
    if options.json:
        Path(options.json).write_text(json_report(results, options.url, options.profile, elapsed))
    failed = any(r.outcome.value == "FAIL" for r in results)
    return CHECK_EXIT["failed" if failed else "passed"]
