# -*- test-case-name: tests.test_check -*-
"""
Running cases one after another against one server: each with a deadline,
a server that went down blamed on the case that brought it down, and (with
C{restart_wait}) waiting for a supervisor to bring the server back.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any, Final

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from htcpcp.check import framing, lab, rfc2324, rfc7168
from htcpcp.check.context import CaseContext, Settings
from htcpcp.check.model import Case, CaseFailed, CaseResult, CaseSkipped, Level, Outcome
from htcpcp.check.wire import reachable

__all__ = ["PROFILES", "run_cases", "select_cases", "wait_until_reachable"]

PROFILES: Final[dict[str, tuple[Case, ...]]] = {
    "lab": tuple(lab.cases.cases),
    "rfc2324": tuple(rfc2324.cases.cases),
    "rfc7168": tuple(rfc7168.cases.cases),
    "http": tuple(framing.cases.cases),
}
"""Every profile's cases, in the order they run; C{all} runs them all in this order."""

POLL_INTERVAL: Final = 0.2
"""Seconds between connection attempts while waiting for a server to come back."""

CASE_CONNECTIONS: Final = 12
"""A case may take C{brew_wait} plus this many connection timeouts before it is cut off."""


def select_cases(profile: str, only: str | None = None) -> list[Case]:
    """
    The cases of C{profile} (or of every profile for C{all}) whose id or name
    matches one of C{only}'s comma-separated glob patterns (C{lab/1*}, C{*406*}).
    """
    chosen = [c for name, found in PROFILES.items() if profile in ("all", name) for c in found]
    if not only:
        return chosen
    patterns = [p.strip().lower() for p in only.split(",") if p.strip()]
    return [
        c
        for c in chosen
        if any(
            fnmatch.fnmatchcase(c.id, p) or fnmatch.fnmatchcase(c.name.lower(), p) for p in patterns
        )
    ]


async def wait_until_reachable(reactor: Any, settings: Settings, seconds: float) -> bool:
    """Whether the server accepts connections within C{seconds}."""
    deadline = reactor.seconds() + seconds
    while True:
        if await reachable(reactor, settings.server, settings.timeout):
            return True
        if reactor.seconds() >= deadline:
            return False
        await deferLater(reactor, POLL_INTERVAL)


async def _run_one(
    reactor: Any, case: Case, settings: Settings, shared: dict[str, object]
) -> CaseResult:
    context = CaseContext(reactor, settings, shared)
    started = reactor.seconds()
    limit = settings.brew_wait + CASE_CONNECTIONS * settings.timeout
    running: Deferred[None] = Deferred.fromCoroutine(case.body(context))
    running.addTimeout(limit, reactor)

    def result(outcome: Outcome, message: str = "", failing: Any = None) -> CaseResult:
        return CaseResult(
            case, outcome, reactor.seconds() - started, message, failing, tuple(context.attempts)
        )

    try:
        await running
    except CaseFailed as failed:
        outcome = Outcome.FAIL if case.level is Level.MUST else Outcome.WARN
        return result(outcome, failed.sentence, failed.attempt)
    except CaseSkipped as skipped:
        return result(Outcome.SKIP, skipped.reason)
    except CancelledError:
        return result(Outcome.FAIL, f"the case did not finish within {limit:g} s", context.last)
    except Exception as error:
        return result(Outcome.FAIL, f"internal error in htcpcp check: {error!r}", context.last)
    return result(Outcome.PASS)


def _blamed(result: CaseResult, back: bool) -> CaseResult:
    said = f" ({result.message})" if result.message else ""
    after = "it came back" if back else "it did not come back"
    return CaseResult(
        result.case,
        Outcome.FAIL,
        result.elapsed,
        f"the server stopped accepting connections during this case; {after}{said}",
        result.failing or (result.attempts[-1] if result.attempts else None),
        result.attempts,
    )


async def run_cases(
    reactor: Any,
    cases: Sequence[Case],
    settings: Settings,
    restart_wait: float = 0.0,
    on_result: Callable[[CaseResult], object] = lambda _: None,
) -> list[CaseResult]:
    """Run C{cases} in order, calling C{on_result} as each one ends."""
    shared: dict[str, object] = {}
    results: list[CaseResult] = []
    down_since: str | None = None
    for case in cases:
        if down_since is not None:
            result = CaseResult(case, Outcome.SKIP, 0.0, f"the server is down since {down_since}")
        else:
            result = await _run_one(reactor, case, settings, shared)
            if not await reachable(reactor, settings.server, settings.timeout):
                back = restart_wait > 0 and await wait_until_reachable(
                    reactor, settings, restart_wait
                )
                result = _blamed(result, back)
                if not back:
                    down_since = case.id
                shared.clear()
        results.append(result)
        on_result(result)
    return results
