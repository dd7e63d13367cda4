# -*- test-case-name: tests.test_check_doubles -*-
"""
Profile C{lab}: the checkoff of the networking lab this suite replaces.

Its first task is to finish a socket pot server's three TODOs: the response
headers of a 200 answer, the 406 answer with the accepted additions, and
the request checks (400, 404, 501, 415, 418).  Every request here is the
lab's web app's, byte for byte: a new connection, C{HTTP/1.1},
C{coffee://ducky}, C{application/coffee-pot-command}, a body with no
Content-Length; and its answers are read the way that app reads them (the
status from the first line, the JSON from the last line, one C{recv(1024)}).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from htcpcp.check.brewing import brew_seconds, lab_time
from htcpcp.check.context import LAB_TARGET, LAB_TYPE, CaseContext
from htcpcp.check.model import Attempt, CaseList
from htcpcp.message import Response

__all__ = ["LAB_ADDITIONS", "LAB_MILKS", "cases"]

TODO_HEADERS: Final = "see the lab's TODO 'Create response headers' (headers_to_send)"
TODO_406: Final = "see the lab's TODO 'Handle rejected valid request' (the 406 answer)"
TODO_CHECKS: Final = "see the lab's TODO 'Basic request checking' (ensure_request_is_valid)"

LAB_ADDITIONS: Final = (
    "cream", "half-and-half", "whole-milk", "part-skim", "skim", "non-dairy", "vanilla",
    "almond", "raspberry", "chocolate", "whisky", "rum", "kahlua", "aquavit", "oat milk",
    "soya milk", "coconut milk", "almond milk",
)  # fmt: skip
"""The additions the lab's brew form offers, as its web app sends them."""

LAB_MILKS: Final = (
    "cream", "half-and-half", "whole-milk", "part-skim", "skim", "oat milk", "almond milk",
    "soya milk", "coconut milk", "non-dairy",
)  # fmt: skip

LAB_RECV: Final = 1024
"""The lab's web app reads each answer with one C{recv(1024)}."""

BEAN_KEYS: Final = ("name", "type", "origin", "profile", "strength", "roast")
"""The bean fields the lab's beans page reads from PROPFIND's JSON, at top level."""

MILK_MARGIN: Final = 0.5
"""Seconds waited after a brew's end before saying WHEN."""

cases = CaseList("lab")


def _normal(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip().lower())


async def _good_get(ctx: CaseContext) -> tuple[Attempt, Response]:
    attempt = await ctx.lab("GET")
    return attempt, ctx.answer(attempt, TODO_HEADERS)


@cases.case("GET answers with the status line HTCPCP/1.1 200 OK", "lab task 1, TODO 1")
async def status_line(ctx: CaseContext) -> None:
    attempt, _ = await _good_get(ctx)
    line = attempt.received.split(b"\n", 1)[0].rstrip(b"\r")
    ctx.expect(
        line == b"HTCPCP/1.1 200 OK",
        f"the status line is {line!r}; the first string of headers_to_send must be"
        " 'HTCPCP/1.1 200 OK\\r\\n' (" + TODO_HEADERS + ")",
    )


@cases.case("the 200 answer has a Server header", "lab task 1, TODO 1")
async def server_header(ctx: CaseContext) -> None:
    _, response = await _good_get(ctx)
    ctx.expect(
        bool(response.headers.get("server", "").strip()),
        "no Server header: add 'Server: CoffeePot\\r\\n' to headers_to_send (" + TODO_HEADERS + ")",
    )


@cases.case("the 200 answer has a Content-Type with the right media type", "lab task 1, TODO 1")
async def content_type(ctx: CaseContext) -> None:
    _, response = await _good_get(ctx)
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    ctx.expect(
        media in ("message/coffeepot", "application/json"),
        f"the Content-Type is {media or 'missing'!r}: send 'Content-Type: message/coffeepot'"
        " (RFC 2324 section 4; application/json also fits a JSON body) (" + TODO_HEADERS + ")",
    )


@cases.case("the 200 answer has a Date header", "lab task 1, TODO 1")
async def date_header(ctx: CaseContext) -> None:
    _, response = await _good_get(ctx)
    ctx.expect(
        bool(response.headers.get("date", "").strip()),
        "no Date header: add 'Date: ' + current_date to headers_to_send (" + TODO_HEADERS + ")",
    )


@cases.case("a blank line separates the headers from the body", "lab task 1, TODO 1")
async def blank_line(ctx: CaseContext) -> None:
    attempt = await ctx.lab("GET")
    ctx.expect(
        b"\r\n\r\n" in attempt.received or b"\n\n" in attempt.received,
        "there is no blank line after the headers: end headers_to_send with an extra '\\r\\n'"
        " (" + TODO_HEADERS + ")",
    )


@cases.case("GET's body is the pot's JSON, on the last line", "lab task 1; lab README 'Database'")
async def get_json(ctx: CaseContext) -> None:
    attempt = await ctx.lab("GET")
    found = ctx.last_line_json(attempt, "the web app parses the last line as the pot's JSON")
    ctx.expect(isinstance(found, dict), f"the JSON is {found!r}, not an object such as {{}}")


@cases.case(
    "BREW with an addition the pot lacks (tea) gets 406", "lab task 1, TODO 2; RFC 2324 §2.3.1"
)
async def refused_addition(ctx: CaseContext) -> None:
    await ctx.empty_lab_pot()
    attempt = await ctx.lab("BREW", [("Accept-Additions", "tea"), ("Use-Pot", "ducky")], b"start")
    ctx.status(
        attempt,
        406,
        "'tea' is not an accepted addition: answer 406 Not Acceptable (" + TODO_406 + ")",
        TODO_406,
    )


@cases.case("the 406 body lists the accepted additions", "lab task 1, TODO 2; RFC 2324 §2.3.1")
async def refused_list(ctx: CaseContext) -> None:
    await ctx.empty_lab_pot()
    attempt = await ctx.lab("BREW", [("Accept-Additions", "tea"), ("Use-Pot", "ducky")], b"start")
    response = ctx.status(attempt, 406, "expected 406 (" + TODO_406 + ")", TODO_406)
    listed = {_normal(t) for t in re.split(r"[,;\n]", response.body.decode("utf-8", "replace"))}
    missing = [a for a in LAB_ADDITIONS if _normal(a) not in listed]
    ctx.expect(
        not missing,
        f"the 406 body does not list {', '.join(missing)}: make the body"
        " ', '.join(ACCEPTED_ADDITIONS.keys()) (" + TODO_406 + ")",
    )


async def _refused(
    ctx: CaseContext,
    wanted: int,
    why: str,
    method: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    target: str = LAB_TARGET,
    content_type: str = LAB_TYPE,
) -> None:
    attempt = await ctx.lab(method, headers, body, target, content_type)
    ctx.status(attempt, wanted, f"{why}: answer {wanted} ({TODO_CHECKS})", TODO_CHECKS)


@cases.case("an unknown scheme (caffeine://ducky) gets 400", "lab task 1, TODO 3 (/test-400)")
async def unknown_scheme(ctx: CaseContext) -> None:
    await _refused(
        ctx, 400, "caffeine:// is not a coffee scheme", "GET", (), b"", "caffeine://ducky"
    )


@cases.case("an unknown pot (coffee://psyduck) gets 404", "lab task 1, TODO 3 (/test-404)")
async def unknown_pot(ctx: CaseContext) -> None:
    await _refused(ctx, 404, "the pot is ducky, not psyduck", "GET", (), b"", "coffee://psyduck")


@cases.case("an unknown method (MILK) gets 501", "lab task 1, TODO 3 (/test-501)")
async def unknown_method(ctx: CaseContext) -> None:
    await _refused(ctx, 501, "MILK is not an HTCPCP method", "MILK")


@cases.case("Content-Type: application/tea-pot-command gets 415", "lab task 1, TODO 3 (/test-415)")
async def wrong_type(ctx: CaseContext) -> None:
    await _refused(
        ctx, 415, "only application/coffee-pot-command is accepted", "GET", (), b"",
        "coffee://ducky", "application/tea-pot-command",
    )  # fmt: skip


@cases.case(
    "coffee asked of the teapot (Use-Pot: tea) gets 418", "lab task 1, TODO 3; RFC 2324 §2.3.2"
)
async def teapot(ctx: CaseContext) -> None:
    await _refused(ctx, 418, "the pot 'tea' is a teapot", "BREW", [("Use-Pot", "tea")], b"start")


async def _brew_milk(ctx: CaseContext) -> float:
    """Empty the pot, brew with whole milk, and return when the BREW was sent."""
    await ctx.empty_lab_pot()
    sent: float = ctx.reactor.seconds()
    attempt = await ctx.lab(
        "BREW", [("Accept-Additions", "whole-milk"), ("Use-Pot", "ducky")], b"start"
    )
    ctx.status(
        attempt, 200, "a BREW start of the pot ducky with whole-milk must succeed", TODO_HEADERS
    )
    return sent


async def _lab_get(ctx: CaseContext) -> dict[str, object]:
    attempt = await ctx.lab("GET")
    ctx.status(attempt, 200, "GET must answer 200", TODO_HEADERS)
    found = ctx.last_line_json(attempt, "the web app parses the last line as the pot's JSON")
    ctx.expect(
        isinstance(found, dict) and bool(found), f"GET after a brew shows {found!r}, not the brew"
    )
    assert isinstance(found, dict)
    return found


@cases.case(
    "BREW start with whole-milk gets 200 and GET shows that coffee", "lab README; lab web app"
)
async def brew_shows(ctx: CaseContext) -> None:
    await _brew_milk(ctx)
    brew = await _lab_get(ctx)
    ctx.expect(
        brew.get("beverage_type") == "Coffee",
        f"beverage_type is {brew.get('beverage_type')!r}, not 'Coffee'",
    )
    ctx.expect(
        brew.get("additions") == ["whole-milk"],
        f"additions is {brew.get('additions')!r}: the web app looks up 'whole-milk' as it sent it",
    )
    for key in ("date", "brew_time_end"):
        ctx.expect(
            lab_time(brew.get(key)) is not None,
            f"{key} is {brew.get(key)!r}, not a time like 'Tue, 27 Jun 2023 17:39:59'",
        )
    ctx.expect(isinstance(brew.get("coffee_bean"), dict), "the brew has no coffee_bean object")
    await ctx.empty_lab_pot()


@cases.case(
    "a brew with milk has pour_milk_start set and pour_milk_stop false",
    "lab web app (milk pouring)",
)
async def milk_fields(ctx: CaseContext) -> None:
    await _brew_milk(ctx)
    brew = await _lab_get(ctx)
    ctx.expect(
        lab_time(brew.get("pour_milk_start")) is not None,
        f"pour_milk_start is {brew.get('pour_milk_start')!r}: with milk it must say when"
        " the milk starts pouring",
    )
    ctx.expect(
        brew.get("pour_milk_stop") is False,
        f"pour_milk_stop is {brew.get('pour_milk_stop')!r}: the web app tests it == false",
    )
    await ctx.empty_lab_pot()


@cases.case("PROPFIND shows the bean's fields at top level", "lab web app (beans page)")
async def propfind_bean(ctx: CaseContext) -> None:
    await _brew_milk(ctx)
    attempt = await ctx.lab("PROPFIND")
    ctx.status(attempt, 200, "PROPFIND must answer 200", TODO_HEADERS)
    bean = ctx.last_line_json(attempt, "the beans page parses the last line as the bean's JSON")
    missing = [k for k in BEAN_KEYS if not isinstance(bean, dict) or k not in bean]
    ctx.expect(
        not missing,
        f"PROPFIND's JSON lacks the top-level keys {', '.join(missing)} the beans page reads",
    )
    await ctx.empty_lab_pot()


@cases.case(
    "a second BREW start while brewing is refused", "lab README ('no new coffee will be scheduled')"
)
async def busy(ctx: CaseContext) -> None:
    await _brew_milk(ctx)
    attempt = await ctx.lab("BREW", [("Use-Pot", "ducky")], b"start")
    response = ctx.answer(attempt, TODO_HEADERS)
    ctx.expect(
        400 <= response.status < 500,
        f"got {response.status}: a pot that is brewing must refuse another start (409)",
    )
    await ctx.empty_lab_pot()


@cases.case(
    "WHEN while the milk pours gets 200 and sets pour_milk_stop", "lab web app; RFC 2324 §2.1.4"
)
async def say_when(ctx: CaseContext) -> None:
    sent = await _brew_milk(ctx)
    brew = await _lab_get(ctx)
    seconds = brew_seconds(brew)
    ctx.expect(seconds is not None, "the brew's date and brew_time_end do not say when it ends")
    assert seconds is not None
    if seconds > ctx.settings.brew_wait:
        raise ctx.skip(
            f"the brew takes {seconds:g} s, longer than --brew-wait {ctx.settings.brew_wait:g}"
        )
    await ctx.wait(sent + seconds + MILK_MARGIN - ctx.reactor.seconds())
    ctx.shared["finished_brew"] = True
    attempt = await ctx.lab("WHEN")
    ctx.status(
        attempt, 200, "WHEN after the brew ended, while the milk pours, must succeed", TODO_HEADERS
    )
    after = await _lab_get(ctx)
    ctx.expect(
        after.get("pour_milk_stop") is True,
        f"after WHEN, pour_milk_stop is {after.get('pour_milk_stop')!r}, not true",
    )


@cases.case(
    "stop on a finished brew gets 200 and empties the pot ({})", "lab web app ('Brew a new pot.')"
)
async def stop_finished(ctx: CaseContext) -> None:
    if not ctx.shared.pop("finished_brew", False):
        sent = await _brew_milk(ctx)
        seconds = brew_seconds(await _lab_get(ctx))
        if seconds is None or seconds > ctx.settings.brew_wait:
            raise ctx.skip("cannot tell when the brew ends, or it takes longer than --brew-wait")
        await ctx.wait(sent + seconds + MILK_MARGIN - ctx.reactor.seconds())
    attempt = await ctx.lab("BREW", [("Use-Pot", "ducky")], b"stop")
    ctx.status(
        attempt, 200, "stop on a finished brew must take the cup away with 200", TODO_HEADERS
    )
    attempt = await ctx.lab("GET")
    found = ctx.last_line_json(attempt, "the web app parses the last line as the pot's JSON")
    ctx.expect(
        found == {}, f"after stop, GET shows {found!r}: it must be {{}} so the brew form comes back"
    )


@cases.case(
    "a brew with all 18 of the form's additions: answers fit one recv(1024)",
    "lab web app (recv(1024))",
)
async def all_additions(ctx: CaseContext) -> None:
    await ctx.empty_lab_pot()
    header = [("Accept-Additions", "; ".join(LAB_ADDITIONS)), ("Use-Pot", "ducky")]
    for attempt in (await ctx.lab("BREW", header, b"start"), await ctx.lab("GET")):
        response = ctx.status(
            attempt, 200, "a brew with every addition the form offers must succeed", TODO_HEADERS
        )
        ctx.expect(
            len(response.raw) <= LAB_RECV,
            f"the answer is {len(response.raw)} bytes: the web app reads only the first {LAB_RECV}",
            attempt,
        )
    await ctx.empty_lab_pot()
