# -*- test-case-name: tests.test_check -*-
"""
Profile C{rfc2324}: HTCPCP/1.0 (RFC 2324) with its verified errata.

Requests name the pot by an absolute coffee URL (C{--coffee} on the URL's
host), send C{message/coffeepot} bodies with a Content-Length, and speak
C{HTTP/1.1}, on which HTCPCP is built (RFC 2324 §1).  RFC 2324 does not cite
RFC 2119: its upper-case MUSTs fail, its SHOULDs, MAYs and lower-case
"should"s warn, and so do the questions it leaves open.
"""

from __future__ import annotations

import re
from typing import Final

from htcpcp.check.context import LAB_TYPE, CaseContext
from htcpcp.check.model import Attempt, CaseList, Level, succeeded
from htcpcp.message import Response
from htcpcp.vocabulary import TEA_TYPE

__all__ = ["ADDITIONS", "SCHEMES", "addition_list", "cases"]

SCHEMES: Final = (
    ("koffie", "Afrikaans, Dutch"),
    ("q%C3%A6hv%C3%A6", "Azerbaijani"),
    ("%D9%82%D9%87%D9%88%D8%A9", "Arabic"),
    ("akeita", "Basque"),
    ("koffee", "Bengali"),
    ("kahva", "Bosnian"),
    ("kafe", "Bulgarian, Czech"),
    ("caf%C3%E8", "Catalan, French, Galician (as printed)"),
    ("%E5%92%96%E5%95%A1", "Chinese"),
    ("kava", "Croatian"),
    ("k%C3%A1va", "Czech"),
    ("kaffe", "Danish, Norwegian, Swedish"),
    ("coffee", "English"),
    ("kafo", "Esperanto"),
    ("kohv", "Estonian"),
    ("kahvi", "Finnish"),
    ("%4Baffee", "German"),
    ("%CE%BA%CE%B1%CF%86%CE%AD", "Greek"),
    ("%E0%A4%95%E0%A5%8C%E0%A4%AB%E0%A5%80", "Hindi"),
    ("%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC", "Japanese"),
    ("%EC%BB%A4%ED%94%BC", "Korean"),
    ("%D0%BA%D0%BE%D1%84%D0%B5", "Russian"),
    ("%E0%B8%81%E0%B8%B2%E0%B9%81%E0%B8%9F", "Thai"),
)
"""RFC 2324 §3's 23 coffee-scheme strings, as printed, with their language labels."""

ADDITIONS: Final = (
    "Cream", "Half-and-half", "Whole-milk", "Part-Skim", "Skim", "Non-Dairy",
    "Vanilla", "Almond", "Raspberry", "Chocolate", "Whisky", "Rum", "Kahlua", "Aquavit",
)  # fmt: skip
"""RFC 2324 §2.2.2.1's milk-, syrup- and alcohol-types."""

UNKNOWN_ADDITION: Final = "Cheese"

cases = CaseList("rfc2324")


def addition_list(body: bytes) -> set[str]:
    """The names in a 406 body's list, lower-cased."""
    text = body.decode("utf-8", "replace")
    return {t.strip().lower() for t in re.split(r"[,;\n]", text) if t.strip()}


def _brewed(ctx: CaseContext, attempt: Attempt, what: str) -> Response:
    response = ctx.answer(attempt)
    ctx.expect(succeeded(response.status), f"got {response.status}: {what}")
    return response


@cases.case("BREW start with message/coffeepot gets 2xx", "RFC 2324 §2.1.1, §4")
async def brew_start(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    _brewed(ctx, await ctx.brew(), "a coffee pot must accept BREW with a message/coffeepot body")
    await ctx.empty_pot()


@cases.case("BREW stop while brewing gets 2xx", "RFC 2324 §4 (coffee-message-body)")
async def brew_stop(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    _brewed(ctx, await ctx.brew(), "BREW start must succeed first")
    _brewed(ctx, await ctx.brew(command=b"stop"), "'stop' must stop the brew")
    await ctx.empty_pot()


@cases.case("POST start works like BREW start", "RFC 2324 §2.1.1 (BREW and POST equivalently)")
async def post_start(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    brew = ctx.answer(await ctx.brew())
    await ctx.empty_pot()
    post = ctx.answer(await ctx.brew(method="POST"))
    ctx.expect(
        post.status == brew.status and succeeded(post.status),
        f"BREW got {brew.status} but POST got {post.status}: POST must be accepted like BREW",
    )
    await ctx.empty_pot()


@cases.case(
    "BREW with application/coffee-pot-command (§2.1.1 as printed) gets 2xx",
    "RFC 2324 §2.1.1; erratum 682",
    Level.SHOULD,
)
async def printed_type(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    _brewed(
        ctx, await ctx.brew(content_type=LAB_TYPE), "clients following §2.1.1 as printed send it"
    )
    await ctx.empty_pot()


@cases.case("BREW without a Content-Type is refused (4xx)", "RFC 2324 §4", Level.SHOULD)
async def no_type(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    attempt = await ctx.request("BREW", body=b"start")
    response = ctx.answer(attempt)
    ctx.expect(
        400 <= response.status < 500,
        f"got {response.status}: the body must be message/coffeepot (415)",
    )
    await ctx.empty_pot()


@cases.case("BREW with a body other than start or stop gets 4xx", "RFC 2324 §4")
async def bad_body(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    response = ctx.answer(await ctx.brew(command=b"espresso"))
    ctx.expect(
        400 <= response.status < 500,
        f'got {response.status}: coffee-message-body is "start" | "stop" (400)',
    )
    await ctx.empty_pot()


async def _with_additions(ctx: CaseContext, value: str) -> tuple[Attempt, Response]:
    await ctx.empty_pot()
    attempt = await ctx.brew(headers=[("Accept-Additions", value)])
    response = ctx.answer(attempt)
    await ctx.empty_pot()
    return attempt, response


@cases.case(
    "Accept-Additions: Cream;q=0.5, Whisky is two additions", "RFC 2324 §2.2.2.1; erratum 5981"
)
async def grammar(ctx: CaseContext) -> None:
    attempt, response = await _with_additions(ctx, "Cream;q=0.5, Whisky")
    if response.status == 406:
        listed = addition_list(response.body)
        ctx.expect(
            not {"cream", "whisky"} <= listed,
            "406 although the pot lists Cream and Whisky: ',' separates additions"
            " and ';q=0.5' is Cream's parameter",
            attempt,
        )
        return
    ctx.expect(
        succeeded(response.status),
        f"got {response.status}: that is the RFC's own grammar (a '#' list with accept-params)",
    )


@cases.case(
    "addition names are case-insensitive (WHISKY = Whisky)", "RFC 2324 §2.2.2.1; RFC 2616 §2.1"
)
async def addition_case(ctx: CaseContext) -> None:
    _, spelled = await _with_additions(ctx, "Whisky")
    _, shouted = await _with_additions(ctx, "WHISKY")
    ctx.expect(
        spelled.status == shouted.status,
        f"Whisky got {spelled.status} but WHISKY got {shouted.status}:"
        " compare addition names ignoring case",
    )


@cases.case("Accept-Additions: * gets 2xx", 'RFC 2324 §2.2.2.1 (addition-type "*")')
async def wildcard(ctx: CaseContext) -> None:
    _, response = await _with_additions(ctx, "*")
    ctx.expect(
        succeeded(response.status),
        f"got {response.status}: '*' accepts any addition, so the pot can comply",
    )


@cases.case(
    f"an addition the pot lacks ({UNKNOWN_ADDITION}) gets 406", "RFC 2324 §2.3.1", Level.SHOULD
)
async def lacking(ctx: CaseContext) -> None:
    _, response = await _with_additions(ctx, UNKNOWN_ADDITION)
    ctx.expect(
        response.status == 406,
        f"got {response.status}: a pot that cannot comply answers 406 Not Acceptable",
    )


@cases.case("the 406 body lists the available additions", "RFC 2324 §2.3.1", Level.SHOULD)
async def lacking_list(ctx: CaseContext) -> None:
    attempt, response = await _with_additions(ctx, UNKNOWN_ADDITION)
    if response.status != 406:
        raise ctx.skip(f"{UNKNOWN_ADDITION} got {response.status}, not 406")
    ctx.expect(
        bool(addition_list(response.body)),
        "the 406 body is empty: list the pot's additions, comma-separated",
        attempt,
    )


@cases.case("HEAD refused with 406 has no body", "RFC 2324 §2.3.1; RFC 9110 §9.3.2")
async def head_406(ctx: CaseContext) -> None:
    data = ctx.build(
        "HEAD", ctx.coffee_url(), [("Accept-Additions", UNKNOWN_ADDITION), ("Connection", "close")]
    )
    attempt = await ctx.send(data, heads=[True], read_to_close=True)
    response = ctx.answer(attempt)
    extra = len(attempt.received) - len(response.raw)
    ctx.expect(
        extra == 0,
        f"{extra} bytes followed the head of the answer to HEAD: a HEAD answer has no body",
    )


@cases.case(
    f"Accept-Additions: {UNKNOWN_ADDITION};q=0 (excluded) is not refused",
    "RFC 2324 §2.2.2.1; RFC 2068 §14.1",
    Level.SHOULD,
)
async def excluded(ctx: CaseContext) -> None:
    _, response = await _with_additions(ctx, f"{UNKNOWN_ADDITION};q=0")
    ctx.expect(
        succeeded(response.status),
        f"got {response.status}: q=0 means 'not acceptable', so nothing is asked for",
    )


def _scheme_case(scheme: str, languages: str) -> None:
    @cases.case(f"GET with the {languages} scheme {scheme}:// gets 2xx", "RFC 2324 §3")
    async def by_scheme(ctx: CaseContext) -> None:
        target = f"{scheme}://{ctx.settings.authority}{ctx.settings.coffee_path}"
        response = ctx.answer(await ctx.request("GET", target))
        ctx.expect(
            succeeded(response.status),
            f"got {response.status}: all coffee-scheme forms are equivalent",
        )


for _scheme, _languages in SCHEMES:
    _scheme_case(_scheme, _languages)


async def _schemes_answer(ctx: CaseContext, schemes: list[str], why: str) -> None:
    refused = []
    for scheme in schemes:
        target = f"{scheme}://{ctx.settings.authority}{ctx.settings.coffee_path}"
        response = ctx.answer(await ctx.request("GET", target))
        if not succeeded(response.status):
            refused.append(f"{scheme} ({response.status})")
    ctx.expect(not refused, f"refused {', '.join(refused)}: {why}")


@cases.case("GET with erratum 3492's caf%C3%E9:// gets 2xx", "RFC 2324 §3; erratum 3492")
async def erratum_cafe(ctx: CaseContext) -> None:
    await _schemes_answer(
        ctx, ["caf%C3%E9"], "erratum 3492 (verified) corrects caf%C3%E8 to caf%C3%E9"
    )


@cases.case(
    "GET with the valid UTF-8 caf%C3%A9:// and caf%C3%A8:// gets 2xx",
    "RFC 2324 §3 (URL encoding of UTF-8)",
    Level.SHOULD,
)
async def utf8_cafe(ctx: CaseContext) -> None:
    await _schemes_answer(
        ctx, ["caf%C3%A9", "caf%C3%A8"], "these are café and cafè correctly encoded"
    )


@cases.case(
    "GET with the schemes as IRIs (decoded UTF-8) gets 2xx",
    "RFC 2324 §3 [URLI18N]; RFC 3987",
    Level.SHOULD,
)
async def iri_schemes(ctx: CaseContext) -> None:
    from urllib.parse import unquote

    decoded = [unquote(s) for s, _ in SCHEMES if "%" in s and s not in ("caf%C3%E8", "%4Baffee")]
    await _schemes_answer(ctx, decoded, "an IRI client sends the scheme decoded")


@cases.case("scheme names are case-independent (COFFEE://, Koffie://)", "RFC 2324 §3")
async def scheme_case(ctx: CaseContext) -> None:
    await _schemes_answer(ctx, ["COFFEE", "Koffie"], "URL scheme names are case-independent")


@cases.case("an unknown scheme (caffeine://) gets 4xx", "RFC 2324 §3")
async def unknown_scheme(ctx: CaseContext) -> None:
    target = f"caffeine://{ctx.settings.authority}{ctx.settings.coffee_path}"
    response = ctx.answer(await ctx.request("GET", target))
    ctx.expect(
        400 <= response.status < 500,
        f"got {response.status}: caffeine is not a coffee-scheme (400)",
    )


@cases.case("an unknown pot (/pot-999) gets 404", "RFC 2324 §3 (pot-designator); RFC 9110 §15.5.5")
async def unknown_pot(ctx: CaseContext) -> None:
    ctx.status(await ctx.request("GET", ctx.coffee_url("/pot-999")), 404, "there is no pot-999")


@cases.case("GET on the pot gets 2xx", "RFC 2324 §2.1.2")
async def get_pot(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.request("GET"))
    ctx.expect(succeeded(response.status), f"got {response.status}: GET retrieves the pot's state")


@cases.case("PROPFIND on the pot gets 2xx", "RFC 2324 §2.1.3")
async def propfind(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.request("PROPFIND"))
    ctx.expect(
        succeeded(response.status), f"got {response.status}: PROPFIND returns the pot's metadata"
    )


@cases.case("WHEN is implemented (not 501)", "RFC 2324 §2.1.4")
async def when_known(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.request("WHEN"))
    ctx.expect(
        response.status != 501, "501: WHEN is an HTCPCP method (say when the milk is enough)"
    )


@cases.case(
    "coffee asked of the teapot gets 418 (or 503)", "RFC 2324 §2.3.2; RFC 7168 §2.3.3", Level.SHOULD
)
async def teapot(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.brew(ctx.tea_url()))
    ctx.expect(
        response.status in (418, 503),
        f"got {response.status}: a teapot asked for coffee answers 418 I'm a teapot",
    )
    await ctx.empty_pot(ctx.tea_url(), TEA_TYPE)


@cases.case("the 418 reason phrase is I'm a teapot", "RFC 2324 §2.3.2", Level.SHOULD)
async def teapot_phrase(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.brew(ctx.tea_url()))
    if response.status != 418:
        raise ctx.skip(f"coffee asked of the teapot got {response.status}, not 418")
    ctx.expect(
        response.reason.lower() == "i'm a teapot", f"the reason phrase is {response.reason!r}"
    )


_SAFE = re.compile(r"(?i)\A(yes|no|if-[!#$%&'*+.^_`|~0-9A-Za-z-]+)\Z")


@cases.case("GET's answer says Safe: yes", "RFC 2324 §2.2.1.1 (recommended)", Level.SHOULD)
async def safe_get(ctx: CaseContext) -> None:
    response = ctx.answer(await ctx.request("GET"))
    ctx.expect(
        response.headers.get("safe", "").strip().lower() == "yes",
        f"Safe is {response.headers.get('safe')!r}",
    )


@cases.case(
    "BREW's Safe header, when sent, is valid and not yes", "RFC 2324 §2.2.1.1", Level.SHOULD
)
async def safe_brew(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    response = ctx.answer(await ctx.brew())
    await ctx.empty_pot()
    safe = response.headers.get("safe")
    if safe is None:
        return
    ctx.expect(
        _SAFE.match(safe.strip()) is not None, f"Safe: {safe!r} is not yes | no | if-<token>"
    )
    ctx.expect(
        safe.strip().lower() != "yes", "Safe: yes on BREW tells clients repeating it is harmless"
    )


@cases.case(
    "additions in the URL's query (?Cream) are read, not refused as a bad URL",
    "RFC 2324 §3 (additions-list)",
)
async def query_additions(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    response = ctx.answer(await ctx.brew(ctx.coffee_url() + "?Cream"))
    await ctx.empty_pot()
    ctx.expect(
        succeeded(response.status) or response.status == 406,
        f'got {response.status}: coffee-url allows "?" additions-list',
    )
