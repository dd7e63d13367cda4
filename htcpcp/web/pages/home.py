# -*- test-case-name: tests.test_web_routes -*-
"""
The pots' pages: home (live status and the brew form), beans, and errors.

Each function returns the content of a page's C{<main>} as tags; the
L{layout.page} frame goes around it.  The home page is complete without
script: every pot's state, time left and actions are in the HTML as served,
and C{app.js} only keeps them current.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from twisted.web.template import Flattenable, Tag, tags

from htcpcp.web.pages.layout import PageContext
from htcpcp.web.pots.errors import ErrorPage
from htcpcp.web.pots.labels import TIMER_LABELS, clock_text, state_label
from htcpcp.web.pots.model import PotInfo, PotView, Problem, Snapshot

__all__ = [
    "NOTICES",
    "Countdown",
    "beans_content",
    "countdowns",
    "error_content",
    "home_content",
    "refresh_after",
]

ACTIONS: Final = (
    ("when", "when", "Say when", "pouring", "Stop the milk now"),
    ("stop", "stop", "Stop", "brewing pouring", "End this brew early"),
    ("take", "stop", "Take the cup away", "ready", "Empty the pot, ready for a new brew"),
)
"""Each pot's forms: class, address, label, the states it is offered in, hint."""
MANY_POTS: Final = 8
"""Beyond this many pots, the cards are compact."""
REFRESH_LONGEST: Final = 15
NOTICES: Final = {
    "brewing": "Brewing has started.",
    "stopped": "Done: the brew was stopped, or the cup taken away.",
    "when": "The milk has stopped: enjoy.",
}
MAX_TEXT: Final = 40


def unknown_label(problem: Problem) -> str:
    """The words on a pot's card while the pot server cannot be used."""
    since = time.strftime("%H:%M:%S", time.gmtime(problem.since))
    return f"Unknown — pot server unreachable since {since} UTC"


def refresh_after(snapshot: Snapshot) -> int | None:
    """Seconds after which a page without script reloads itself: while a pot changes."""
    if snapshot.problem is not None:
        return REFRESH_LONGEST
    waits = [view.seconds_left for view in snapshot.pots if view.state in ("brewing", "pouring")]
    if not waits:
        return None
    return max(1, min(REFRESH_LONGEST, math.ceil(min(waits)) + 1))


class Countdown(NamedTuple):
    """A pot's time left as its page shows it: C{data-seconds} and the clock."""

    seconds: str
    clock: str

    @classmethod
    def of(cls, seconds: float) -> Countdown:
        if seconds <= 0:
            return NO_TIME_LEFT
        return cls(f"{seconds:.1f}", clock_text(seconds))


NO_TIME_LEFT: Final = Countdown("0.0", "0:00")


def countdowns(snapshot: Snapshot, age: float) -> tuple[Countdown, ...]:
    """Every pot's countdown, C{age} seconds after the snapshot was taken."""
    return tuple(Countdown.of(view.seconds_left - age) for view in snapshot.pots)


def _pot_card(
    context: PageContext, view: PotView, countdown: Countdown, problem: Problem | None
) -> Tag:
    info = view.info
    state = view.state
    label = unknown_label(problem) if problem is not None else state_label(view)
    timer = tags.p(class_="pot-timer", **{"data-role": "timer"})(
        tags.span(**{"data-role": "timer-label"})(TIMER_LABELS.get(state, "")),
        " ",
        tags.span(class_="clock", **{"data-role": "clock", "data-seconds": countdown.seconds})(
            countdown.clock
        ),
    )
    if state not in TIMER_LABELS:
        timer.attributes["data-off"] = "1"
    actions: list[Flattenable] = []
    for action, address, words, shown_in, hint in ACTIONS:
        button = tags.button(type="submit", title=hint, class_=f"button-{action}")(words)
        if problem is not None:
            button.attributes["disabled"] = "disabled"
        form = context.post_form(
            f"pots/{info.index}/{address}",
            button,
            class_=f"pot-action action-{action}",
            **{"data-show": shown_in},
        )
        if state not in shown_in.split():
            form.attributes["hidden"] = "hidden"
        actions.append(form)
    actions.append(tags.a(href=context.url(f"beans/{info.index}"), class_="pot-link")("Beans"))
    kind = "teapot" if info.teapot else "coffee pot"
    return tags.article(
        class_="pot",
        id=f"pot-{info.index}",
        **{
            "data-pot": str(info.index),
            "data-kind": info.kind,
            "data-state": state,
            "aria-labelledby": f"pot-{info.index}-name",
        },
    )(
        tags.header(class_="pot-head")(
            tags.h2(id=f"pot-{info.index}-name")(info.name),
            tags.span(class_="pot-kind")(kind),
        ),
        tags.div(class_="vessel", **{"aria-hidden": "true"})(
            tags.span(class_="liquid"), tags.span(class_="milk")
        ),
        tags.p(class_="pot-state")(tags.span(class_="badge", **{"data-role": "state"})(label)),
        tags.p(class_="pot-drink", **{"data-role": "summary"})(view.summary()),
        timer,
        tags.div(class_="pot-actions")(*actions),
    )


def _problem_box(problem: Problem) -> Tag:
    return tags.div(class_="problem", role="alert", id="problem")(
        tags.p(class_="problem-status")(str(problem.status)),
        tags.h2(problem.title),
        tags.p(
            "What the pots are doing is unknown since ",
            tags.time(datetime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(problem.since)))(
                time.strftime("%H:%M:%S UTC", time.gmtime(problem.since))
            ),
            ", and nothing can be brewed. This page recovers by itself when the pot server"
            " is back.",
        ),
        tags.p(class_="detail")(problem.detail),
    )


def _brew_form(context: PageContext, pots: Sequence[PotView], usable: bool) -> Tag:
    infos = [view.info for view in pots]
    pot_select = tags.select(name="pot", id="brew-pot")(
        tags.option(value=str(info.index))(
            f"{info.name} ({'teapot' if info.teapot else 'coffee pot'})"
        )
        for info in infos
    )
    every = " ".join(str(info.index) for info in infos)
    drinks: list[Flattenable] = [tags.option(value="coffee", **{"data-pots": every})("Coffee")]
    for info in infos:
        if info.varieties:
            drinks.append(
                tags.optgroup(label=f"Tea from {info.name}")(
                    tags.option(value=name, **{"data-pots": str(info.index)})(
                        f"{name} ({clock_text(seconds)} steep)"
                    )
                    for name, seconds in info.varieties
                )
            )
    holders: dict[str, list[str]] = {}
    for info in infos:
        for addition in info.additions:
            holders.setdefault(addition, []).append(str(info.index))
    boxes = [
        tags.label(class_="addition", **{"data-pots": " ".join(indexes)})(
            tags.input(type="checkbox", name="additions", value=addition),
            " ",
            addition,
        )
        for addition, indexes in holders.items()
    ]
    fields = tags.fieldset(class_="brew-fields", id="brew-fields")(
        tags.legend(class_="visually-hidden")("Your order"),
        tags.div(class_="field-row")(
            tags.label(for_="brew-pot")("Pot"),
            pot_select,
        ),
        tags.div(class_="field-row")(
            tags.label(for_="brew-drink")("Drink"),
            tags.select(name="drink", id="brew-drink")(*drinks),
        ),
        tags.fieldset(class_="additions")(
            tags.legend("Additions ", tags.small("(each pot has its own)")),
            tags.div(class_="addition-grid")(*boxes),
        ),
        tags.div(class_="field-row")(
            tags.label(for_="brew-other")("Something else"),
            tags.input(
                type="text",
                name="other",
                id="brew-other",
                maxlength=str(MAX_TEXT),
                placeholder="e.g. Chamomile",
                autocomplete="off",
            ),
        ),
        tags.button(type="submit", class_="button-brew")("Brew"),
    )
    if not usable:
        fields.attributes["disabled"] = "disabled"
    return tags.section(class_="brew", id="brew", **{"aria-labelledby": "brew-title"})(
        tags.h2(id="brew-title")("Brew something"),
        context.post_form("brew", fields, class_="brew-form", id="brew-form"),
    )


def home_content(
    context: PageContext,
    snapshot: Snapshot,
    clocks: Sequence[Countdown],
    notice: str = "",
) -> list[Flattenable]:
    """
    The home page: every pot's status, then the brew form.

    @param clocks: the pots' L{countdowns}, one a pot.
    @param notice: what the last form did, in words (once).
    """
    problem = snapshot.problem
    content: list[Flattenable] = [tags.h1("The pots")]
    content.append(
        tags.p(class_="live-note", id="live-note", role="status", **{"aria-live": "polite"})(
            notice or ""
        )
    )
    if problem is not None:
        content.append(_problem_box(problem))
    elif not snapshot.pots:
        content.append(tags.p(class_="empty")("The pot server has no pots."))
    many = " pots-many" if len(snapshot.pots) > MANY_POTS else ""
    content.append(
        tags.div(class_="pots" + many, id="pots")(
            *(
                _pot_card(context, view, countdown, problem)
                for view, countdown in zip(snapshot.pots, clocks, strict=True)
            )
        )
    )
    if snapshot.pots:
        content.append(_brew_form(context, snapshot.pots, problem is None))
    return content


def _strength(value: object) -> Tag:
    level = int(value) if isinstance(value, (int, float)) else 0
    level = max(0, min(5, level))
    return tags.span(class_="strength", title=f"{level} of 5")(
        "●" * level + "○" * (5 - level), tags.span(class_="visually-hidden")(f" {level} of 5")
    )


def _terms(pairs: Sequence[tuple[str, Flattenable]]) -> Tag:
    return tags.dl(class_="terms")(
        *(part for term, value in pairs for part in (tags.dt(term), tags.dd(value)))
    )


def beans_content(
    context: PageContext, info: PotInfo, body: Mapping[str, Any]
) -> list[Flattenable]:
    """The beans page: the bean in the pot (PROPFIND) and the pot's properties."""
    bean = body.get("bean")
    content: list[Flattenable] = [tags.h1(f"Beans of {info.name}")]
    if isinstance(bean, Mapping):
        content.append(
            tags.section(class_="bean card")(
                tags.h2(str(bean.get("name", "?"))),
                _terms(
                    [
                        ("Origin", str(bean.get("origin", ""))),
                        ("Profile", str(bean.get("profile", ""))),
                        ("Type", str(bean.get("type", ""))),
                        ("Roast", str(bean.get("roast", ""))),
                        ("Strength", _strength(bean.get("strength"))),
                    ]
                ),
            )
        )
    elif info.teapot:
        content.append(tags.p(class_="empty")(f"{info.name} brews tea: it has leaves, not beans."))
    else:
        content.append(
            tags.p(class_="empty")(
                f"No coffee in {info.name} right now: a bean is chosen when a brew starts."
            )
        )
    found = body.get("pot")
    pot: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    facts: list[tuple[str, Flattenable]] = [
        ("Kind", "teapot" if info.teapot else "coffee pot"),
        ("State", str(pot.get("state", "unknown"))),
        ("Brew time", clock_text(info.brew_time)),
        ("Longest milk pour", clock_text(info.pour_time)),
        ("Additions", ", ".join(info.additions) or "none"),
    ]
    if info.varieties:
        facts.append(
            (
                "Teas",
                tags.ul(class_="inline-list")(
                    tags.li(f"{name} ({clock_text(seconds)})") for name, seconds in info.varieties
                ),
            )
        )
    content.append(tags.section(class_="card")(tags.h2("About this pot"), _terms(facts)))
    content.append(tags.p(tags.a(href=context.url(), class_="back")("Back to the pots")))
    return content


def error_content(context: PageContext, error: ErrorPage) -> list[Flattenable]:
    """An error page: the status, what it means, and the pot's own words."""
    parts: list[Flattenable] = [
        tags.p(class_="error-code", **{"aria-hidden": "true"})(str(error.status)),
        tags.h1(error.title),
        tags.p(error.explanation),
    ]
    if error.additions:
        parts.append(
            tags.ul(class_="addition-list", id="pot-additions")(
                tags.li(addition) for addition in error.additions
            )
        )
    if error.retry_after is not None:
        parts.append(tags.p(class_="retry")(f"Try again in {error.retry_after} s."))
    if error.detail:
        speaker = f"{error.pot} said" if error.pot else "Cause"
        parts.append(tags.p(class_="detail")(f"{speaker}: ", tags.q(error.detail)))
    parts.append(tags.p(tags.a(href=context.url(), class_="back")("Back to the pots")))
    return [tags.section(class_=f"error-page error-{error.status}")(*parts)]
