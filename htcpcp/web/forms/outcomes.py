# -*- test-case-name: tests.test_web_routes -*-
"""
What a form's submission led to, kept so that every outcome is a redirect.

Every form is answered with 303 (POST-redirect-GET), whatever the pot said:
a refusal (406, 409, 418, ...) is kept here under a random identifier, for
the session that caused it, and shown by a GET of C{outcome/ID} with its own
status code, so reloading it never sends the brew again.

Each rendered page's forms carry a nonce
(L{htcpcp.web.pages.layout.NONCE_FIELD}).  L{Outcomes.once} runs a
submission the first time a (session, nonce, form) is seen, and answers a
repeat (a double click, a browser resending the form) with the first one's
redirect, waiting for it if it is still under way: a pot is never asked
twice for one click.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from htcpcp.cache import RecentCache
from htcpcp.web.pots.errors import ErrorPage

__all__ = ["Outcomes", "Redirect"]


@dataclass(frozen=True)
class Redirect:
    """
    Where a submission's answer is read, and the notice it leaves there.

    @ivar location: a page below the mount point (C{""} for the home page).
    @ivar notice: the name of a notice the page shows once, or C{""}.
    """

    location: str
    notice: str = ""


class Outcomes:
    """
    The refusals to show and the submissions already answered.

    @param limit: how many of each are kept.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._refusals: RecentCache[str, tuple[str, ErrorPage]] = RecentCache(limit)
        self._answered: RecentCache[tuple[str, str, str], Deferred[Redirect]] = RecentCache(limit)

    def keep(self, session: str, error: ErrorPage) -> str:
        """Keep C{error} for C{session}; the identifier to show it by."""
        identifier = secrets.token_hex(16)
        self._refusals.put(identifier, (session, error))
        return identifier

    def refusal(self, session: str, identifier: str) -> ErrorPage | None:
        """The refusal C{identifier} if it is C{session}'s."""
        found = self._refusals.get(identifier)
        return found[1] if found is not None and found[0] == session else None

    async def once(
        self, session: str, nonce: str, form: str, submit: Callable[[], Awaitable[Redirect]]
    ) -> Redirect:
        """
        Where to redirect after a submission: C{submit()}'s answer the first
        time, the same answer for a repeat (C{nonce} empty: always run).
        """
        if not nonce:
            return await submit()
        key = (session, nonce, form)
        earlier = self._answered.get(key)
        if earlier is not None:
            return await _copy(earlier)
        first: Deferred[Redirect] = Deferred.fromCoroutine(_run(submit))

        def forget(reason: Failure) -> Failure:
            self._answered.discard(key)
            return reason

        first.addErrback(forget)
        if not first.called:
            self._answered.put(key, first)
        elif isinstance(first.result, Redirect):
            self._answered.put(key, succeed(first.result))
        return await _copy(first)


async def _run(submit: Callable[[], Awaitable[Redirect]]) -> Redirect:
    return await submit()


def _copy(deferred: Deferred[Redirect]) -> Deferred[Redirect]:
    """A Deferred with C{deferred}'s result, leaving C{deferred}'s for others."""
    if deferred.called and isinstance(deferred.result, Redirect):
        return succeed(deferred.result)
    copy: Deferred[Redirect] = Deferred()

    def deliver(result: Redirect | Failure) -> Redirect | None:
        if isinstance(result, Failure):
            copy.errback(result)
            return None
        copy.callback(result)
        return result

    deferred.addBoth(deliver)
    return copy
