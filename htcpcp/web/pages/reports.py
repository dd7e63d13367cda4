# -*- test-case-name: tests.test_web_routes -*-
"""
The pages that look back: the brew history, the protocol inspector, and
the lab's diagnostic requests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from twisted.web.template import Flattenable, Tag, tags

from htcpcp.client import Exchange
from htcpcp.message import Response
from htcpcp.web.pages.charts import brews_over_time, popular_additions
from htcpcp.web.pages.layout import PageContext
from htcpcp.web.pages.spacetime import Spacetime, spacetime
from htcpcp.web.pots.diagnostics import DIAGNOSTICS, Diagnostic
from htcpcp.web.pots.inspector import method_of, shown
from htcpcp.web.pots.model import PotInfo

__all__ = [
    "diagnostic_content",
    "diagnostics_content",
    "history_content",
    "inspector_content",
]

OUTCOME_ORDER = ("ready", "stopped", "interrupted", "brewing", "pouring")


def _utc(seconds: object) -> Flattenable:
    if not isinstance(seconds, (int, float)):
        return "—"
    moment = time.gmtime(seconds)
    return tags.time(datetime=time.strftime("%Y-%m-%dT%H:%M:%SZ", moment))(
        time.strftime("%Y-%m-%d %H:%M:%S", moment)
    )


def _milk(brew: Mapping[str, Any]) -> str:
    start, stop = brew.get("pour_start"), brew.get("pour_stop")
    if isinstance(start, (int, float)) and isinstance(stop, (int, float)):
        return f"{stop - start:.0f} s"
    if not brew.get("milk"):
        return "—"
    return "pouring" if brew.get("outcome") == "pouring" else "not poured"


def _brew_row(brew: Mapping[str, Any]) -> Tag:
    variety = brew.get("variety")
    drink = f"{variety} tea" if variety else str(brew.get("beverage", "coffee"))
    found = brew.get("bean")
    bean: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    outcome = str(brew.get("outcome", ""))
    strength = brew.get("strength")
    return tags.tr(
        tags.td(_utc(brew.get("started"))),
        tags.td(str(brew.get("pot", ""))),
        tags.td(drink),
        tags.td(", ".join(str(a) for a in brew.get("additions") or ()) or "—"),
        tags.td(str(bean.get("name", "—"))),
        tags.td(_milk(brew)),
        tags.td(
            tags.span(class_=f"badge outcome-{outcome}")(outcome),
            " (resumed)" if brew.get("resumed") else "",
        ),
        tags.td(f"{strength:.0%}" if isinstance(strength, (int, float)) else "—"),
    )


def _latest(sample: Sequence[object]) -> str:
    count = len(sample)
    return f" (the latest {count} brew{'s' * (count != 1)})" if count else ""


def _page_link(context: PageContext, page: int, pot: str | None, label: str, rel: str) -> Tag:
    query = {"page": str(page), **({"pot": pot} if pot else {})}
    return tags.a(href=context.url("history?" + urlencode(query)), rel=rel)(label)


def history_content(
    context: PageContext,
    listing: Mapping[str, Any],
    sample: Sequence[Mapping[str, Any]],
    pots: Sequence[PotInfo],
    pot: str | None,
) -> list[Flattenable]:
    """The history: totals, charts, one page of the brews, and links to the others."""
    page = int(listing.get("page", 1))
    pages = int(listing.get("pages", 1))
    outcomes = listing.get("outcomes") or {}
    totals = [("Brews", str(listing.get("total", 0)))] + [
        (name.capitalize(), str(outcomes[name])) for name in OUTCOME_ORDER if name in outcomes
    ]
    chooser = tags.form(method="get", action=context.url("history"), class_="filter")(
        tags.label(for_="history-pot")("Pot"),
        tags.select(name="pot", id="history-pot")(
            tags.option(value="")("every pot"),
            *(
                tags.option(
                    value=info.name, **({"selected": "selected"} if info.name == pot else {})
                )(info.name)
                for info in pots
            ),
        ),
        tags.button(type="submit")("Show"),
    )
    brews = listing.get("brews") or []
    table: Flattenable = tags.p(class_="empty")("No brews yet.")
    if brews:
        table = tags.div(
            class_="table-wrap",
            tabindex="0",
            role="region",
            **{"aria-label": "Brews (scrolls sideways)"},
        )(
            tags.table(class_="history-table")(
                tags.caption(f"Page {page} of {pages}, newest first (times in UTC)"),
                tags.thead(
                    tags.tr(
                        *(
                            tags.th(scope="col")(heading)
                            for heading in (
                                "Started",
                                "Pot",
                                "Drink",
                                "Additions",
                                "Bean",
                                "Milk",
                                "Outcome",
                                "Strength",
                            )
                        )
                    )
                ),
                tags.tbody(*(_brew_row(brew) for brew in brews)),
            )
        )
    pager: list[Flattenable] = []
    if page > 1:
        pager.append(_page_link(context, page - 1, pot, "← Newer", "prev"))
    pager.append(tags.span(class_="pager-where")(f"Page {page} of {pages}"))
    if page < pages:
        pager.append(_page_link(context, page + 1, pot, "Older →", "next"))
    return [
        tags.h1("History"),
        chooser,
        tags.dl(class_="totals")(
            *(tags.div(tags.dt(term), tags.dd(value)) for term, value in totals)
        ),
        tags.div(class_="charts")(
            tags.figure(class_="card")(
                brews_over_time(sample),
                tags.figcaption("Brews over time", _latest(sample)),
            ),
            tags.figure(class_="card")(
                popular_additions(sample),
                tags.figcaption("The most popular additions", _latest(sample)),
            ),
        ),
        tags.p(class_="scroll-hint", **{"aria-hidden": "true"})("Scroll sideways for more →"),
        table,
        tags.nav(class_="pager", **{"aria-label": "History pages"})(*pager),
    ]


def _exchange_item(exchange: Exchange) -> Tag:
    first_line = exchange.request.split(b"\r\n", 1)[0]
    status = str(exchange.status) if exchange.status is not None else "no answer"
    elapsed = f"{exchange.elapsed * 1000:.1f} ms" if exchange.elapsed is not None else ""
    when = time.strftime("%H:%M:%S", time.gmtime(exchange.started))
    response: Flattenable = tags.pre(class_="raw")(shown(exchange.response))
    if exchange.error:
        response = tags.div(
            tags.p(class_="detail")(exchange.error),
            tags.pre(class_="raw")(shown(exchange.response)) if exchange.response else "",
        )
    return tags.li(class_=f"exchange method-{method_of(exchange).lower()}")(
        tags.details(
            tags.summary(
                tags.code(shown(first_line)),
                " → ",
                tags.span(class_="badge")(status),
                f" · {elapsed} · {when} UTC · {exchange.endpoint}",
            ),
            tags.div(class_="raw-pair")(
                tags.div(tags.h3("Request"), tags.pre(class_="raw")(shown(exchange.request))),
                tags.div(tags.h3("Response"), response),
            ),
        )
    )


def _diagram_section(drawing: Spacetime | None) -> Flattenable:
    """The space-time diagram, open, in a region that scrolls sideways on a phone."""
    if drawing is None:
        return ""
    return tags.details(class_="spacetime-box", open="")(
        tags.summary(tags.h2("Space-time diagram")),
        tags.figure(
            tags.p(class_="scroll-hint", **{"aria-hidden": "true"})("Scroll sideways for more →"),
            tags.div(
                class_="spacetime-scroll",
                tabindex="0",
                role="region",
                **{"aria-labelledby": "spacetime-caption"},
            )(drawing.svg()),
            tags.figcaption(id="spacetime-caption")(
                drawing.summary(),
                " The same exchanges are ",
                tags.a(href="#exchanges")("listed below"),
                ", newest first.",
            ),
        ),
    )


def inspector_content(
    context: PageContext,
    exchanges: Sequence[Exchange],
    changes_only: bool,
    web_port: int | None = None,
) -> list[Flattenable]:
    """
    The protocol inspector: the space-time diagram of the exchanges, then
    their raw requests and responses, newest first.

    @param web_port: the port the browser reached this web front end on.
    """
    choices = tags.p(class_="filter")(
        tags.a(href=context.url("inspector"), **({} if changes_only else {"aria-current": "true"}))(
            "Everything"
        ),
        " · ",
        tags.a(
            href=context.url("inspector?show=changes"),
            **({"aria-current": "true"} if changes_only else {}),
        )("Only what changes a pot"),
    )
    listing: Flattenable = tags.p(class_="empty")("No exchanges yet: brew something.")
    if exchanges:
        listing = tags.ol(class_="exchanges", reversed="", id="exchanges")(
            *(_exchange_item(e) for e in exchanges)
        )
    return [
        tags.h1("Protocol inspector"),
        tags.p(
            "The raw HTCPCP this web front end exchanged with the pot server:"
            " what Wireshark would show, without Wireshark. The diagram draws them as the lab"
            " asks, oldest at the top; the list below has them newest first: open an entry"
            " to see it."
        ),
        choices,
        _diagram_section(spacetime(exchanges, web_port)),
        tags.h2(class_="exchanges-heading")("Exchanges, newest first"),
        listing,
    ]


def diagnostics_content(context: PageContext) -> list[Flattenable]:
    """The list of the lab's diagnostic requests."""
    return [
        tags.h1("Diagnostics"),
        tags.p(
            "Each link sends the pot server one deliberately bad request, as the lab's web"
            " app did, and shows its answer. None of them changes a pot."
        ),
        tags.ul(class_="diagnostics")(
            tags.li(
                tags.a(href=context.url(f"test-{d.code}"))(f"/test-{d.code}"),
                f": {d.title}",
            )
            for d in DIAGNOSTICS.values()
        ),
    ]


def diagnostic_content(
    context: PageContext, diagnostic: Diagnostic, answer: Response
) -> list[Flattenable]:
    """One diagnostic: the request sent and the pot's answer with its status."""
    return [
        tags.h1(f"/test-{diagnostic.code}: {diagnostic.title}"),
        tags.p(diagnostic.explanation),
        tags.p(class_="verdict")(
            "The pot answered ",
            tags.span(class_=f"badge status-{answer.status}", id="answer-status")(
                f"{answer.status} {answer.reason}"
            ),
            ""
            if str(answer.status) == diagnostic.code
            else f" (the lab expects {diagnostic.code})",
        ),
        tags.div(class_="raw-pair")(
            tags.div(tags.h2("Sent"), tags.pre(class_="raw")(shown(diagnostic.request))),
            tags.div(tags.h2("Answer"), tags.pre(class_="raw")(shown(answer.raw))),
        ),
        tags.p(tags.a(href=context.url("diagnostics"), class_="back")("All diagnostics")),
    ]
