# -*- test-case-name: tests.test_web_routes -*-
"""
Sessions and cross-site request forgery protection for the front end's forms.

L{procure} finds a request's session from its cookie, or makes one on a
GET, and issues the cookie as Klein's L{SessionProcurer} does (same names,
C{Secure} under TLS, C{HttpOnly}) but also C{SameSite=Lax} and scoped to
the mount point; it skips what the front end does not use (sessions named
by a header, and the search for tokens sent over plain HTTP, which this
store keeps apart anyway), which was a tenth of a first page view.  The
session is set on the request as Klein's L{ISession} component, where
Klein's forms look for it.  Every state-changing form carries
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

from klein import Field
from klein.interfaces import ISession, ISessionStore, NoSuchSession, SessionMechanism
from klein.storage.memory import MemorySessionStore
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.components import Componentized
from twisted.web.iweb import IRequest
from twisted.web.template import Tag
from zope.interface import implementer

from htcpcp.web.mount import Mount

__all__ = ["SESSION_LIFETIME", "SessionStore", "check_csrf", "csrf_glue", "procure"]

SESSION_LIFETIME: Final = 12 * 3600
CSRF_FIELD: Final = b"__csrf_protection__"
"""The field Klein's C{checkCSRF} reads (C{klein._form.CSRF_PROTECTION})."""
COOKIES: Final = {True: "Klein-Secure-Session", False: "Klein-INSECURE-Session"}
"""The session cookie's name over TLS and over plain HTTP (Klein's own)."""


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

    def new(self, confidential: bool) -> ISession:
        """A new session, kept from now on (until idle too long or pushed out)."""
        session: ISession = self._factory.newSession(confidential, SessionMechanism.Cookie).result  # type: ignore[attr-defined]
        self._sessions[(confidential, session.identifier)] = (self._clock.seconds(), session)
        while len(self._sessions) > self._limit:
            self._sessions.popitem(last=False)
        return session

    def find(self, identifier: str, confidential: bool) -> ISession | None:
        """The live session C{identifier}, now used again; C{None} if there is none."""
        key = (confidential, identifier)
        now = self._clock.seconds()
        found = self._sessions.pop(key, None)
        if found is None or now - found[0] > self._lifetime:
            return None
        self._sessions[key] = (now, found[1])
        return found[1]  # type: ignore[no-any-return]

    def newSession(
        self, isConfidential: bool, authenticatedBy: SessionMechanism
    ) -> Deferred[ISession]:
        return succeed(self.new(isConfidential))

    def loadSession(
        self, identifier: str, isConfidential: bool, authenticatedBy: SessionMechanism
    ) -> Deferred[ISession]:
        session = self.find(identifier, isConfidential)
        if session is None:
            return fail(NoSuchSession("no such session"))
        return succeed(session)

    def sentInsecurely(self, identifiers: Any) -> None:
        """Nothing to do: insecure and secure sessions are kept apart."""


def procure(request: IRequest, store: SessionStore, mount: Mount) -> ISession | None:
    """
    The request's session, made on a GET if it has none.

    @return: C{None} when there is no session and none may be made (a HEAD,
        or a POST whose cookie has expired).
    """
    components: Componentized = request  # type: ignore[assignment]
    session: ISession | None = components.getComponent(ISession)
    if session is not None:
        return session
    secure = bool(request.isSecure())
    sent = request.getCookie(COOKIES[secure].encode("ascii"))
    if sent:
        session = store.find(sent.decode("ascii", "replace"), secure)
    if session is None:
        if request.method != b"GET":
            return None
        session = store.new(secure)
        request.addCookie(  # type: ignore[call-arg]
            COOKIES[secure],
            session.identifier,
            max_age=str(SESSION_LIFETIME),
            path=mount.path,
            secure=secure,
            httpOnly=True,
            sameSite="lax",
        )
    components.setComponent(ISession, session)
    return session


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
