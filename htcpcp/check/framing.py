# -*- test-case-name: tests.test_check -*-
"""
Profile C{http}: HTCPCP is built on HTTP (RFC 2324 §1), so a pot must frame
and answer messages the way HTTP/1.1 says (RFC 9110, RFC 9112): lengths,
chunked bodies, persistent connections, pipelining, HEAD, OPTIONS, 405,
501, 505, Host, Expect, and garbage answered without falling over.

Requests use the origin form (C{/pot-0} with a C{Host}) that HTTP tools send.
"""

from __future__ import annotations

import re
from typing import Final

from htcpcp.check.context import CaseContext
from htcpcp.check.model import Attempt, CaseList, Ending, Level, succeeded
from htcpcp.check.wire import Segment
from htcpcp.message import Response
from htcpcp.vocabulary import COFFEE_TYPE

__all__ = ["IMF_FIXDATE", "cases"]

IMF_FIXDATE: Final = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d{2}:\d{2}:\d{2} GMT\Z"
)
"""RFC 9110 §5.6.7's preferred date format."""

LENGTHLESS_ANSWER: Final = 1.0
"""Seconds a BREW without a length or body may wait for its answer (scanners wait 1 s)."""

cases = CaseList("http")


def _host(ctx: CaseContext) -> tuple[str, str]:
    return ("Host", ctx.settings.authority)


def _get(
    ctx: CaseContext, path: str | None = None, version: str = "HTTP/1.1", *extra: tuple[str, str]
) -> bytes:
    target = ctx.settings.coffee_path if path is None else path
    return ctx.build("GET", target, [_host(ctx), *extra], version=version)


def _brew_headers(ctx: CaseContext) -> list[tuple[str, str]]:
    return [_host(ctx), ("Content-Type", COFFEE_TYPE)]


def _brew(ctx: CaseContext, command: bytes = b"start", *extra: tuple[str, str]) -> bytes:
    headers = [*_brew_headers(ctx), *extra]
    return ctx.build("BREW", ctx.settings.coffee_path, headers, command)


async def _origin(ctx: CaseContext) -> tuple[Attempt, Response]:
    attempt = await ctx.send(_get(ctx))
    return attempt, ctx.answer(attempt)


def _closed(ctx: CaseContext, attempt: Attempt, why: str) -> None:
    ctx.answer(attempt)
    ctx.expect(
        attempt.ending is Ending.CLOSED,
        f"the server kept the connection open {ctx.settings.timeout:g} s after answering: {why}",
    )


@cases.case("an HTTP/1.1 request gets an HTTP/1.x status line", "RFC 9112 §4; RFC 9110 §2.5")
async def http_version(ctx: CaseContext) -> None:
    _, response = await _origin(ctx)
    ctx.expect(
        response.version.startswith("HTTP/1."),
        f"the status line says {response.version}: HTTP clients (curl, browsers) cannot read that",
    )


@cases.case("answers carry a Date in IMF-fixdate", "RFC 9110 §6.6.1, §5.6.7")
async def date(ctx: CaseContext) -> None:
    _, response = await _origin(ctx)
    value = response.headers.get("date", "")
    ctx.expect(
        bool(IMF_FIXDATE.match(value.strip())),
        f"Date is {value!r}, not like 'Sun, 06 Nov 1994 08:49:37 GMT'",
    )


@cases.case("answers carry a Content-Length", "RFC 9112 §6.3", Level.SHOULD)
async def length(ctx: CaseContext) -> None:
    _, response = await _origin(ctx)
    framed = "content-length" in response.headers or "transfer-encoding" in response.headers
    ctx.expect(
        framed,
        "no Content-Length: the client must wait for the close, and cannot keep the connection",
    )


@cases.case(
    "the origin form and the absolute form name the same pot", "RFC 9112 §3.2.2; RFC 2068 §5.1.2"
)
async def forms(ctx: CaseContext) -> None:
    _, origin = await _origin(ctx)
    absolute = ctx.answer(await ctx.request("GET"))
    ctx.expect(
        origin.status == absolute.status,
        f"{ctx.settings.coffee_path} got {origin.status}, its coffee URL {absolute.status}",
    )


@cases.case("BREW with a Content-Length body gets 2xx", "RFC 9112 §6.2; RFC 2324 §4")
async def counted(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    response = ctx.answer(await ctx.send(_brew(ctx)))
    await ctx.empty_pot()
    ctx.expect(
        succeeded(response.status),
        f"got {response.status} for BREW {ctx.settings.coffee_path} with Content-Length: 5",
    )


@cases.case("BREW with a chunked body gets 2xx", "RFC 9112 §7.1 (MUST parse chunked)")
async def chunked(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    head = ctx.build(
        "BREW",
        ctx.settings.coffee_path,
        [_host(ctx), ("Content-Type", COFFEE_TYPE), ("Transfer-Encoding", "chunked")],
    )
    response = ctx.answer(await ctx.send(head + b"5\r\nstart\r\n0\r\n\r\n"))
    await ctx.empty_pot()
    ctx.expect(succeeded(response.status), f"got {response.status}: the chunked body is 'start'")


@cases.case(
    "Content-Length with Transfer-Encoding is refused (400) and the connection closed",
    "RFC 9112 §6.1, §11.2",
)
async def smuggling(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    head = ctx.build(
        "BREW",
        ctx.settings.coffee_path,
        [*_brew_headers(ctx), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    )
    attempt = await ctx.send(head + b"5\r\nstart\r\n0\r\n\r\n", read_to_close=True)
    await ctx.empty_pot()
    ctx.status(attempt, 400, "both framings at once is how requests are smuggled")
    _closed(ctx, attempt, "after such a request the server MUST close")


@cases.case("a persistent connection answers a second request", "RFC 9112 §9.3")
async def keep_alive(ctx: CaseContext) -> None:
    attempt = await ctx.send(_get(ctx), Segment(_get(ctx), after_responses=1), finals=2)
    ctx.answer(attempt)
    ctx.expect(
        len(attempt.finals) == 2,
        "the second request on the connection got no answer: HTTP/1.1 keeps connections",
    )


@cases.case("pipelined requests are answered in order", "RFC 9112 §9.3.2")
async def pipelining(ctx: CaseContext) -> None:
    attempt = await ctx.send(_get(ctx) + _get(ctx, "/pot-999") + _get(ctx), finals=3)
    ctx.answer(attempt)
    statuses = [r.status for r in attempt.finals]
    ctx.expect(
        len(statuses) == 3
        and succeeded(statuses[0])
        and statuses[1] == 404
        and succeeded(statuses[2]),
        f"three pipelined GETs (pot, /pot-999, pot) got {statuses}: answer each, in order",
    )


@cases.case("Connection: close closes the connection after the answer", "RFC 9112 §9.6")
async def close(ctx: CaseContext) -> None:
    attempt = await ctx.send(
        _get(ctx, None, "HTTP/1.1", ("Connection", "close")), read_to_close=True
    )
    _closed(ctx, attempt, "the request said Connection: close")


@cases.case(
    "an HTTP/1.0 request is answered in HTTP/1.x, then the connection closed",
    "RFC 9112 §9.3; RFC 9110 §2.5",
)
async def http_10(ctx: CaseContext) -> None:
    attempt = await ctx.send(_get(ctx, None, "HTTP/1.0"), read_to_close=True)
    response = ctx.answer(attempt)
    ctx.expect(response.version.startswith("HTTP/1."), f"an HTTP/1.0 client got {response.version}")
    _closed(ctx, attempt, "HTTP/1.0 without keep-alive closes")


@cases.case("HEAD gets the head without a body", "RFC 9110 §9.3.2")
async def head(ctx: CaseContext) -> None:
    data = ctx.build("HEAD", ctx.settings.coffee_path, [_host(ctx), ("Connection", "close")])
    attempt = await ctx.send(data, heads=[True], read_to_close=True)
    response = ctx.answer(attempt)
    extra = len(attempt.received) - len(response.raw)
    ctx.expect(succeeded(response.status), f"HEAD got {response.status} where GET succeeds")
    ctx.expect(extra == 0, f"{extra} bytes of body followed the answer to HEAD")


@cases.case("OPTIONS gets 2xx with Allow", "RFC 9110 §9.3.7, §10.2.1", Level.SHOULD)
async def options(ctx: CaseContext) -> None:
    response = ctx.answer(
        await ctx.send(ctx.build("OPTIONS", ctx.settings.coffee_path, [_host(ctx)]))
    )
    ctx.expect(succeeded(response.status), f"got {response.status}")
    ctx.expect("allow" in response.headers, "no Allow header: say which methods the pot takes")


@cases.case("a 405 carries Allow", "RFC 9110 §15.5.6 (MUST generate Allow)")
async def not_allowed(ctx: CaseContext) -> None:
    for method, path in (("BREW", "/log"), ("WHEN", "/log"), ("BREW", "*"), ("PROPFIND", "/log")):
        headers = [_host(ctx), ("Content-Type", COFFEE_TYPE)] if method == "BREW" else [_host(ctx)]
        attempt = await ctx.send(
            ctx.build(method, path, headers, b"stop" if method == "BREW" else b"")
        )
        response = attempt.response
        if response is not None and response.status == 405:
            ctx.expect(
                "allow" in response.headers, f"{method} {path} got 405 without Allow", attempt
            )
            return
    raise ctx.skip("no request tried got 405")


@cases.case("an unknown method gets 501", "RFC 9110 §9.1, §15.6.2")
async def unknown_method(ctx: CaseContext) -> None:
    ctx.status(
        await ctx.send(ctx.build("MILK", ctx.settings.coffee_path, [_host(ctx)])),
        501,
        "MILK is not a method",
    )


@cases.case("HTTP/3.0 (an unsupported major version) gets 505", "RFC 9110 §15.6.6", Level.SHOULD)
async def major_version(ctx: CaseContext) -> None:
    ctx.status(
        await ctx.send(_get(ctx, None, "HTTP/3.0")), 505, "HTTP/1.x servers answer other majors 505"
    )


@cases.case("HTTP/1.2 is served as HTTP/1.1", "RFC 9110 §2.5", Level.SHOULD)
async def minor_version(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.send(_get(ctx, None, "HTTP/1.2")))
    ctx.expect(
        succeeded(response.status),
        f"got {response.status}: a higher minor version is read as the highest known",
    )


@cases.case("garbage instead of a request line gets 4xx", "RFC 9112 §3")
async def garbage(ctx: CaseContext) -> None:
    attempt = await ctx.send(b"\x16\x03\x01 this is not a request\r\n\r\n", read_to_close=True)
    response = ctx.answer(attempt)
    ctx.expect(
        400 <= response.status < 500, f"got {response.status}: an invalid request line is 400"
    )


@cases.case("after garbage the server still answers", "RFC 9112 §3; robustness")
async def survives(ctx: CaseContext) -> None:
    await ctx.send(b"\x00\xff" * 512 + b"\r\n\r\n", read_to_close=True)
    response = ctx.answer(await ctx.send(_get(ctx)))
    ctx.expect(succeeded(response.status), f"a GET after the garbage got {response.status}")


@cases.case("two Host fields get 400", "RFC 9112 §3.2 (MUST respond 400)")
async def two_hosts(ctx: CaseContext) -> None:
    attempt = await ctx.send(ctx.build("GET", ctx.settings.coffee_path, [_host(ctx), _host(ctx)]))
    ctx.status(attempt, 400, "a request with more than one Host is invalid")


@cases.case(
    "an HTTP/1.1 origin-form request without Host gets 400", "RFC 9112 §3.2 (MUST respond 400)"
)
async def no_host(ctx: CaseContext) -> None:
    ctx.status(
        await ctx.send(ctx.build("GET", ctx.settings.coffee_path)), 400, "HTTP/1.1 requires Host"
    )


@cases.case("an invalid Host value gets 400", "RFC 9112 §3.2 (MUST respond 400)")
async def bad_host(ctx: CaseContext) -> None:
    attempt = await ctx.send(
        ctx.build("GET", ctx.settings.coffee_path, [("Host", "not a host/name")])
    )
    ctx.status(attempt, 400, "Host must be host[:port]")


@cases.case(
    "Expect: 100-continue gets 100 Continue (or the final status) before the body",
    "RFC 9110 §10.1.1",
)
async def expect_continue(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    head, _, body = _brew(ctx, b"start", ("Expect", "100-continue")).partition(b"\r\n\r\n")
    attempt = await ctx.send(head + b"\r\n\r\n", Segment(body, after_responses=1))
    await ctx.empty_pot()
    ctx.answer(
        attempt, "the server must not wait for a body the client holds back until it hears 100"
    )


@cases.case(
    f"BREW with no length and no body is answered within {LENGTHLESS_ANSWER:g} s",
    "RFC 9112 §6.3 (no length: no body)",
)
async def lengthless(ctx: CaseContext) -> None:
    target = f"kafo://{ctx.settings.authority}{ctx.settings.coffee_path}"
    data = ctx.build("BREW", target, [("Content-Type", COFFEE_TYPE)], version="HTCPCP/1.0")
    attempt = await ctx.send(data, timeout=LENGTHLESS_ANSWER)
    await ctx.empty_pot()
    ctx.answer(attempt, "a request without Content-Length or Transfer-Encoding has an empty body")


@cases.case(
    "a GET pipelined after a length-less BREW is answered as its own request", "RFC 9112 §6.3"
)
async def after_lengthless(ctx: CaseContext) -> None:
    brew = ctx.build("BREW", ctx.settings.coffee_path, [_host(ctx), ("Content-Type", COFFEE_TYPE)])
    attempt = await ctx.send(brew + _get(ctx), finals=2)
    await ctx.empty_pot()
    ctx.answer(attempt)
    statuses = [r.status for r in attempt.finals]
    ctx.expect(
        len(statuses) == 2 and succeeded(statuses[1]),
        f"got {statuses}: the GET is the next request, never the BREW's body",
    )
