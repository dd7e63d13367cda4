# -*- test-case-name: tests.test_check -*-
"""
Profile C{rfc7168}: HTCPCP-TEA, the tea extension (RFC 7168, no errata).

The teapot is C{--teapot} on the URL's host.  Its varieties are not guessed:
they are read from the C{Alternates} of the 300 answer, as RFC 7168 §2.1.1
tells clients to.  RFC 7168 cites RFC 2119, so its MUSTs fail and its
SHOULDs, RECOMMENDEDs and MAYs warn.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urljoin

from htcpcp.check.alternates import AlternatesError, Variant, parse_alternates
from htcpcp.check.context import CaseContext
from htcpcp.check.model import Attempt, CaseList, Level, succeeded
from htcpcp.check.rfc2324 import addition_list
from htcpcp.message import Response
from htcpcp.vocabulary import TEA_TYPE

__all__ = ["SUGARS", "cases"]

SUGARS: Final = ("Sugar", "Xylitol", "Stevia")
"""RFC 7168 §2.2.1's sugar-type."""

cases = CaseList("rfc7168")


async def _offer(ctx: CaseContext, target: str | None = None) -> tuple[Attempt, Response]:
    attempt = await ctx.brew(target or ctx.tea_url(), content_type=TEA_TYPE)
    return attempt, ctx.answer(attempt)


def _variants(ctx: CaseContext, attempt: Attempt, response: Response) -> list[Variant]:
    value = response.headers.get("alternates")
    ctx.expect(value is not None, f"got {response.status} with no Alternates header", attempt)
    assert value is not None
    try:
        return parse_alternates(value)
    except AlternatesError as error:
        raise ctx.fail(
            f"the Alternates header is not an RFC 2295 variant list: {error}", attempt
        ) from None


async def _tea_urls(ctx: CaseContext) -> list[str]:
    """The teapot's variety URLs, from its Alternates (skip the case when there are none)."""
    _, response = await _offer(ctx)
    try:
        variants = parse_alternates(response.headers.get("alternates", ""))
    except AlternatesError:
        raise ctx.skip(
            "the teapot's BREW gave no readable Alternates, so no variety is known"
        ) from None
    base = f"http://{ctx.settings.authority}{ctx.settings.teapot_path}"
    urls = [
        "coffee://" + urljoin(base, v.uri).removeprefix("http://")
        for v in variants
        if v.media_type == TEA_TYPE
    ]
    if not urls:
        raise ctx.skip("the teapot's Alternates lists no message/teapot variety")
    return urls


@cases.case(
    "BREW message/teapot to the teapot answers with an Alternates header", "RFC 7168 §2.1.1"
)
async def offers(ctx: CaseContext) -> None:
    attempt, response = await _offer(ctx)
    _variants(ctx, attempt, response)


@cases.case("... with status 300", "RFC 7168 §2.3.1 (RECOMMENDED)", Level.SHOULD)
async def offers_300(ctx: CaseContext) -> None:
    _, response = await _offer(ctx)
    ctx.expect(
        response.status == 300,
        f"got {response.status}: 300 says brewing has not begun and a choice is needed",
    )


@cases.case(
    "the Alternates header is a well-formed RFC 2295 variant list",
    "RFC 7168 §2.1.1; RFC 2295 §5.1, §8.3",
)
async def well_formed(ctx: CaseContext) -> None:
    attempt, response = await _offer(ctx)
    for variant in _variants(ctx, attempt, response):
        ctx.expect(bool(variant.uri), "a variant has an empty URI", attempt)
        ctx.expect(
            variant.media_type is not None,
            f"the variant {variant.uri!r} has no {{type ...}}",
            attempt,
        )


@cases.case("the Alternates list at least one message/teapot variety", "RFC 7168 §2.1.1")
async def lists_tea(ctx: CaseContext) -> None:
    attempt, response = await _offer(ctx)
    teas = [v for v in _variants(ctx, attempt, response) if v.media_type == TEA_TYPE]
    ctx.expect(
        bool(teas),
        "no variant has {type message/teapot}: list the tea bags and leaf varieties",
        attempt,
    )


@cases.case(
    "that BREW does not start brewing: a variety BREW right after gets 2xx",
    "RFC 7168 §2.1.1 (brewing will not commence)",
)
async def not_brewing(ctx: CaseContext) -> None:
    urls = await _tea_urls(ctx)
    await ctx.empty_pot(urls[0], TEA_TYPE)
    await _offer(ctx)
    response = ctx.answer(await ctx.brew(urls[0], content_type=TEA_TYPE))
    ctx.expect(
        succeeded(response.status),
        f"got {response.status}: the pot must still be free after answering with Alternates",
    )
    await ctx.empty_pot(urls[0], TEA_TYPE)


@cases.case("every variety the Alternates list brews (2xx)", "RFC 7168 §2.1.2")
async def every_variety(ctx: CaseContext) -> None:
    refused = []
    for url in await _tea_urls(ctx):
        await ctx.empty_pot(url, TEA_TYPE)
        response = ctx.answer(await ctx.brew(url, content_type=TEA_TYPE))
        if not succeeded(response.status):
            refused.append(f"{url} ({response.status})")
        await ctx.empty_pot(url, TEA_TYPE)
    ctx.expect(not refused, f"refused {', '.join(refused)}: a listed variety must brew")


@cases.case(
    "stop before the tea is strong enough aborts it (2xx)", "RFC 7168 §2.1.2 (MUST abort brewing)"
)
async def stop_early(ctx: CaseContext) -> None:
    url = (await _tea_urls(ctx))[0]
    await ctx.empty_pot(url, TEA_TYPE)
    ctx.answer(await ctx.brew(url, content_type=TEA_TYPE))
    response = ctx.answer(await ctx.brew(url, b"stop", TEA_TYPE))
    ctx.expect(succeeded(response.status), f"got {response.status}: serve it at lesser strength")
    await ctx.empty_pot(url, TEA_TYPE)


@cases.case(
    "POST message/teapot to the teapot works like BREW", "RFC 7168 §2.1 (POST treated equivalently)"
)
async def post_tea(ctx: CaseContext) -> None:
    _, brew = await _offer(ctx)
    post = ctx.answer(await ctx.brew(ctx.tea_url(), content_type=TEA_TYPE, method="POST"))
    ctx.expect(post.status == brew.status, f"BREW got {brew.status} but POST got {post.status}")


@cases.case(
    "BREW / with message/teapot answers with Alternates",
    'RFC 7168 §2.1.1 (the "/" URI)',
    Level.SHOULD,
)
async def root_offers(ctx: CaseContext) -> None:
    attempt, response = await _offer(ctx, ctx.coffee_url("/"))
    _variants(ctx, attempt, response)
    if succeeded(response.status):
        await ctx.empty_pot(ctx.coffee_url("/"), TEA_TYPE)


@cases.case(
    "BREW / with message/coffeepot also carries Alternates",
    "RFC 7168 §2.1.1 (SHOULD)",
    Level.SHOULD,
)
async def coffee_offers(ctx: CaseContext) -> None:
    root = ctx.coffee_url("/")
    await ctx.empty_pot(root)
    attempt = await ctx.brew(root)
    response = ctx.answer(attempt)
    await ctx.empty_pot(root)
    _variants(ctx, attempt, response)


@cases.case(
    "Accept-Additions: Sugar with a variety is read (2xx, or 406 without Sugar)",
    "RFC 7168 §2.2.1 (sugar-type)",
)
async def sugar(ctx: CaseContext) -> None:
    url = (await _tea_urls(ctx))[0]
    await ctx.empty_pot(url, TEA_TYPE)
    attempt = await ctx.brew(url, content_type=TEA_TYPE, headers=[("Accept-Additions", "Sugar")])
    response = ctx.answer(attempt)
    await ctx.empty_pot(url, TEA_TYPE)
    if response.status == 406:
        ctx.expect(
            "sugar" not in addition_list(response.body),
            "406 although Sugar is listed as available",
            attempt,
        )
        return
    ctx.expect(
        succeeded(response.status) or response.status == 403,
        f"got {response.status}: Sugar is an RFC 7168 addition",
    )


@cases.case("message/teapot to the coffee pot is refused (4xx)", "RFC 7168 §3", Level.SHOULD)
async def tea_in_coffee_pot(ctx: CaseContext) -> None:
    await ctx.empty_pot()
    response = ctx.answer(await ctx.brew(content_type=TEA_TYPE))
    await ctx.empty_pot()
    if response.status == 300:
        return
    ctx.expect(
        400 <= response.status < 500, f"got {response.status}: a coffee pot does not brew tea (415)"
    )


@cases.case("milk with a variety gets 2xx, 403 or 406", "RFC 7168 §2.3.2 (403 MAY)", Level.SHOULD)
async def forbidden(ctx: CaseContext) -> None:
    urls = await _tea_urls(ctx)
    url = next((u for u in urls if u.endswith("peppermint")), urls[0])
    await ctx.empty_pot(url, TEA_TYPE)
    response = ctx.answer(
        await ctx.brew(url, content_type=TEA_TYPE, headers=[("Accept-Additions", "Whole-milk")])
    )
    await ctx.empty_pot(url, TEA_TYPE)
    ctx.expect(
        succeeded(response.status) or response.status in (403, 406), f"got {response.status}"
    )
