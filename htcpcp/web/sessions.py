# -*- test-case-name: tests.test_web_routes -*-
"""
Sessions and cross-site request forgery protection for the front end's forms.

Klein's L{SessionProcurer} issues the session cookie (C{Secure} under TLS,
C{HttpOnly}); L{procure} adds C{SameSite=Lax}, which Klein does not, and
scopes the cookie to the mount point.  Every state-changing form carries
Klein's hidden CSRF field, whose value must equal the session identifier
(L{klein.RenderableForm.glue}); L{check_csrf} refuses a form without it
before Klein's own check runs, so the refusal is a page, not a bare string.

L{SessionStore} keeps sessions in memory like Klein's C{MemorySessionStore},
but bounded: sessions idle for longer than the cookie lives are dropped,
and beyond C{limit} sessions the least recently used goes.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from typing import Any, Final

from klein import Field, SessionProcurer
from klein.interfaces import ISession, ISessionStore, NoSuchSession, SessionMechanism
from klein.storage.memory import MemorySessionStore
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IRequest
from twisted.web.template import Tag
from zope.interface import implementer

from htcpcp.web.mount import Mount

__all__ = ["SESSION_LIFETIME", "SessionStore", "check_csrf", "csrf_glue", "procure"]

SESSION_LIFETIME: Final = 12 * 3600
CSRF_FIELD: Final = b"__csrf_protection__"
"""The field Klein's C{checkCSRF} reads (C{klein._form.CSRF_PROTECTION})."""


@implementer(ISessionStore)
class SessionStore:
    """
    Sessions in memory, at most C{limit}, each dropped after C{lifetime} idle seconds.

    @param clock: the clock idle time is measured with.
    """

    def __init__(
        self, clock: IReactorTime, limit: int = 10_000, lifetime: float = SESSION_LIFETIME
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._lifetime = lifetime
        self._sessions: OrderedDict[tuple[bool, str], tuple[float, Any]] = OrderedDict()
        self._factory = MemorySessionStore()

    def __len__(self) -> int:
        return len(self._sessions)

    def newSession(
        self, isConfidential: bool, authenticatedBy: SessionMechanism
    ) -> Deferred[ISession]:
        made = self._factory.newSession(isConfidential, authenticatedBy)
        session = made.result
        self._sessions[(isConfidential, session.identifier)] = (self._clock.seconds(), session)
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return succeed(session)

    def loadSession(
        self, identifier: str, isConfidential: bool, authenticatedBy: SessionMechanism
    ) -> Deferred[ISession]:
        key = (isConfidential, identifier)
        now = self._clock.seconds()
        found = self._sessions.pop(key, None)
        if found is None or now - found[0] > self._lifetime:
            return fail(NoSuchSession("no such session"))
        self._sessions[key] = (now, found[1])
        return succeed(found[1])

    def sentInsecurely(self, identifiers: Any) -> None:
        """Nothing to do: insecure and secure sessions are kept apart."""


async def procure(request: IRequest, store: SessionStore, mount: Mount) -> ISession | None:
    """
    The request's session, made on a GET if it has none.

    @return: C{None} when there is no session and none may be made (a HEAD,
        or a POST whose cookie has expired).
    """
    procurer = SessionProcurer(
        store, maxAge=SESSION_LIFETIME, cookiePath=mount.path.encode("utf-8")
    )
    try:
        session: ISession = await procurer.procureSession(request)
    except NoSuchSession:
        return None
    _same_site(request)
    return session


def _same_site(request: IRequest) -> None:
    """Add C{SameSite=Lax} to the cookies Klein set on C{request}."""
    cookies: list[bytes] = request.cookies  # type: ignore[attr-defined]
    for index, cookie in enumerate(cookies):
        if b"samesite=" not in cookie.lower():
            cookies[index] = cookie + b"; SameSite=Lax"


def check_csrf(request: IRequest, token: str | None) -> bool:
    """Whether a state-changing request carries its session's CSRF C{token}."""
    if token is None:
        return False
    sent = request.args.get(CSRF_FIELD, [b""])[0]  # type: ignore[attr-defined]
    return bool(sent) and hmac.compare_digest(sent, token.encode("ascii"))


def csrf_glue(token: str | None) -> list[Tag]:
    """
    The hidden CSRF field of a form, as Klein's C{RenderableForm.glue} makes
    it (nothing without a token).

    @param token: the session's identifier, which Klein's check expects.
    """
    if token is None:
        return []
    return list(Field.hidden(CSRF_FIELD.decode("ascii"), token).asTags())
