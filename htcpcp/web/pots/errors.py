# -*- test-case-name: tests.test_web_routes -*-
"""
What went wrong, in words: the front end's error pages as values.

A refusal from the pot (418, 406, 409, ...) is shown with the pot's own
status code and words; a pot server that cannot be used is a 502, 503 or
504 (L{Problem}); the front end's own 400, 404, 405 and 500 complete the
set.  L{from_failure} says which a failure while answering a request is,
for the error handlers of both Klein applications (pages and JSON API).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from twisted.python.failure import Failure
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from htcpcp.client import ClientError
from htcpcp.message import Response
from htcpcp.web.http.queries import BadQuery
from htcpcp.web.pots.gateway import UnknownPot, problem_for
from htcpcp.web.pots.model import PotAnswerError, PotInfo, Problem

__all__ = ["ErrorPage", "from_answer", "from_failure", "from_problem", "web_error"]

MIRRORED: Final = frozenset({400, 403, 404, 406, 409, 415, 418, 503})
"""Pot answers shown with the pot's status; any other refusal is a 502."""

EXPLANATIONS: Final = {
    400: ("Bad request", "The pot could not make sense of that request."),
    403: (
        "Not done here",
        "The pot refuses that combination: some teas are never served with milk,"
        " and nothing here is served with alcohol in tea.",
    ),
    404: ("Not found", "There is nothing here by that name."),
    405: ("Method not allowed", "That cannot be done to this page."),
    406: (
        "Not acceptable",
        "The pot does not have one of the additions you asked for. These are the ones it has:",
    ),
    409: ("The pot is busy", "One brew at a time: the pot is still brewing or pouring milk."),
    415: (
        "Unsupported media type",
        "The pot only understands message/coffeepot and message/teapot.",
    ),
    418: (
        "I'm a teapot",
        "This pot brews tea, not coffee (RFC 2324 section 2.3.2). Ask it for a tea,"
        " or ask a coffee pot for coffee.",
    ),
    500: (
        "Something went wrong",
        "The web front end failed to answer. The error has been logged; please try again.",
    ),
    503: ("Out of coffee", "The pot cannot brew that right now."),
}
BUSY: Final = {
    "brewing": ("The pot is busy", "One brew at a time: the pot is still brewing or pouring milk."),
    "stopped": ("Nothing to stop", "There is nothing to stop: the pot is not brewing."),
    "when": ("No milk is pouring", "No milk is pouring, so there is nothing to say when to."),
}
"""What a 409 means, by the action that met it."""
_RETRY: Final = re.compile(r"\d{1,6}\Z")


@dataclass(frozen=True)
class ErrorPage:
    """
    An error to show.

    @ivar detail: the pot's own words, or the technical cause.
    @ivar additions: for a 406, the additions the pot has.
    @ivar retry_after: seconds after which trying again may work.
    """

    status: int
    title: str
    explanation: str
    detail: str = ""
    pot: str | None = None
    additions: tuple[str, ...] = ()
    retry_after: int | None = None

    def headers(self) -> dict[str, str]:
        """The response headers the error brings: when to try again, if known."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def web_error(status: int, detail: str = "") -> ErrorPage:
    """One of the front end's own errors (404, 405, 500, ...)."""
    title, explanation = EXPLANATIONS.get(status, ("Error", "That did not work."))
    return ErrorPage(status, title, explanation, detail)


def from_problem(problem: Problem) -> ErrorPage:
    """The page for a pot server that cannot be used."""
    return ErrorPage(
        problem.status,
        problem.title,
        "The pots are out of reach for now. This page works again by itself as soon as"
        " the pot server is back.",
        problem.detail,
        retry_after=5,
    )


def _refused(asked: str, pot: PotInfo) -> str:
    """The additions of C{asked} (comma-separated) that C{pot} lacks, in words."""
    has = {addition.lower() for addition in pot.additions}
    lacking = [a.strip() for a in asked.split(",") if a.strip() and a.strip().lower() not in has]
    if not lacking:
        return "The pot does not have one of the additions you asked for."
    names = " or ".join(lacking)
    return f"{pot.name} has no {names}."


def from_answer(response: Response, pot: PotInfo, action: str = "", asked: str = "") -> ErrorPage:
    """
    The page for a pot's refusal (any status but 200).

    @param action: what was asked (C{brewing}, C{stopped}, C{when}), for the words of a 409.
    @param asked: the additions asked for, comma-separated, to name those a 406 refused.
    """
    detail = response.body.decode("utf-8", "replace").strip()
    retry = response.headers.get("retry-after", "").strip()
    retry_after = int(retry) if _RETRY.match(retry) else None
    if response.status not in MIRRORED:
        return ErrorPage(
            502,
            "The pot answered something unexpected",
            f"The pot answered {response.status} {response.reason}.",
            detail,
            pot.name,
        )
    title, explanation = EXPLANATIONS[response.status]
    additions: tuple[str, ...] = ()
    if response.status == 406:
        additions = tuple(a.strip() for a in detail.split(",") if a.strip()) or pot.additions
        explanation = f"{_refused(asked, pot)} These are the ones it has:"
    if response.status == 409:
        title, explanation = BUSY.get(action, (title, explanation))
    return ErrorPage(response.status, title, explanation, detail, pot.name, additions, retry_after)


def from_failure(
    failure: Failure, redact: Callable[[str], str] = str
) -> tuple[ErrorPage, dict[str, str]] | None:
    """
    The page, and its headers, for a failure while answering a request:
    no such route or pot (404), a method the route does not take (405), a
    bad query (400), a pot server that cannot be used (502, 503, 504).

    @param redact: hides what people should not see in a pot server's problem.
    @return: C{None} for any other failure, which is the front end's own (a 500).
    """
    error = failure.value
    if isinstance(error, (NotFound, UnknownPot, RequestRedirect)):
        detail = "There is no such pot." if isinstance(error, UnknownPot) else ""
        return web_error(404, detail), {}
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(error.valid_methods or ())
        return web_error(405, f"Allowed: {allowed}."), {"Allow": allowed}
    if isinstance(error, BadQuery):
        return web_error(400, str(error)), {}
    if isinstance(error, (ClientError, PotAnswerError)):
        return from_problem(problem_for(error, redact)), {}
    return None
