# -*- test-case-name: tests.test_web_sessions,tests.test_web_routes -*-
"""
Sessions and cross-site request forgery protection for the front end's forms.

L{SessionStore} is Klein's L{ISessionStore} over SQLite (C{web-sessions.sqlite3}
in the data directory, or in memory when there is none): the sessions and the
server's secret survive a restart of the web front end, so no open page's
forms go stale because of it.  Sessions idle for longer than the cookie
lives are dropped, and beyond C{limit} the least recently used go.  Only a
new session and, at most once a minute per session, its last use are
written: a page view reads from memory.

L{procure} finds a request's session from its cookie, or makes one, and
issues the cookie as Klein's L{SessionProcurer} does (same names, C{Secure}
under TLS, C{HttpOnly}), but also C{SameSite=Lax} and scoped to the mount
point.  The CSRF token a session's forms carry is never its identifier
(which only the HttpOnly cookie holds) but an HMAC of it with the server's
secret (L{SessionStore.token}).  The request's L{ISession} component is a
L{FormSession} whose C{identifier} is that token, which is what Klein's own
form check compares with; the front end's checks (L{form_token}, read from
the form body only, and L{same_origin}) run before it.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import urlsplit

from klein import Field
from klein.interfaces import ISession, ISessionStore, NoSuchSession, SessionMechanism
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.components import Componentized
from twisted.web.http import parse_qs
from twisted.web.iweb import IRequest
from twisted.web.template import Tag
from zope.interface import Interface, implementer

from htcpcp.web.http.mount import Mount
from htcpcp.web.http.responses import set_cookie

__all__ = [
    "CSRF_FIELD",
    "SESSION_FILE",
    "SESSION_LIFETIME",
    "FormSession",
    "SessionStore",
    "csrf_glue",
    "form_token",
    "procure",
    "same_origin",
]

SESSION_LIFETIME: Final = 12 * 3600
SESSION_FILE: Final = "web-sessions.sqlite3"
TOUCH_EVERY: Final = 60.0
"""Seconds between two writes of a session's last use."""
WRITE_BEHIND: Final = 1.0
"""Seconds new sessions and last uses wait to be written, together, in one transaction."""
CSRF_FIELD: Final = b"__csrf_protection__"
"""The field Klein's C{checkCSRF} reads (C{klein._form.CSRF_PROTECTION})."""
COOKIES: Final = {True: "Klein-Secure-Session", False: "Klein-INSECURE-Session"}
"""The session cookie's name over TLS and over plain HTTP (Klein's own)."""
MAX_FORM: Final = 64 * 1024
SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS sessions (identifier TEXT NOT NULL,"
    " confidential INTEGER NOT NULL, used REAL NOT NULL, PRIMARY KEY (identifier, confidential))",
    "CREATE INDEX IF NOT EXISTS sessions_used ON sessions (used)",
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
)


@implementer(ISession)
@dataclass(frozen=True)
class FormSession:
    """
    A browser's session as Klein's forms see it: C{identifier} is its CSRF token.

    @ivar session: the identifier the cookie carries (never put in a page).
    """

    identifier: str
    session: str
    isConfidential: bool
    authenticatedBy: SessionMechanism = SessionMechanism.Cookie
    data: Componentized = field(default_factory=Componentized, compare=False)

    def authorize(self, interfaces: Iterable[type[Interface]]) -> Deferred[dict[Any, Any]]:
        """Nothing is authorized through a session here."""
        return succeed({})


@implementer(ISessionStore)
class SessionStore:
    """
    Sessions in SQLite, at most C{limit}, each dropped after C{lifetime} idle seconds.

    Sessions are known in memory at once and written behind, within
    C{WRITE_BEHIND} seconds, all that came together in one transaction (and
    at L{close}): a first visit costs no write of its own on the reactor
    thread.  A process killed outright forgets at most that last second's
    sessions, whose pages then get a fresh token and a line saying why.

    @param path: the database file, or C{None} for one in memory.
    @param clock: the clock idle time is measured with.
    """

    def __init__(
        self,
        clock: IReactorTime,
        path: Path | None = None,
        *,
        limit: int = 10_000,
        lifetime: float = SESSION_LIFETIME,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._lifetime = lifetime
        self._db = sqlite3.connect(":memory:" if path is None else str(path))
        if path is not None:
            # WAL with synchronous=NORMAL: a commit survives the process dying (kill -9);
            # only an operating-system crash may lose the latest sessions (their browsers
            # get new ones).  A sync per commit would hold the reactor for every first visit.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            for statement in SCHEMA:
                self._db.execute(statement)
            self._db.execute(
                "INSERT OR IGNORE INTO secrets VALUES ('csrf', ?)", (secrets.token_bytes(32),)
            )
        [(self._secret,)] = self._db.execute("SELECT value FROM secrets WHERE name = 'csrf'")
        self._used: OrderedDict[tuple[bool, str], float] = OrderedDict()
        self._unwritten: dict[tuple[bool, str], float] = {}
        self._writing: IDelayedCall | None = None

    def __len__(self) -> int:
        self.write()
        [(count,)] = self._db.execute("SELECT count(*) FROM sessions")
        return int(count)

    def close(self) -> None:
        self.write()
        self._db.close()

    def write(self) -> None:
        """Write the sessions made or used since the last write, and drop the stale ones."""
        if self._writing is not None and self._writing.active():
            self._writing.cancel()
        self._writing = None
        unwritten, self._unwritten = self._unwritten, {}
        if not unwritten:
            return
        now = self._clock.seconds()
        with self._db:
            self._db.execute("DELETE FROM sessions WHERE used < ?", (now - self._lifetime,))
            self._db.executemany(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                [
                    (identifier, int(secure), used)
                    for (secure, identifier), used in unwritten.items()
                ],
            )
            self._db.execute(
                "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions"
                " ORDER BY used DESC LIMIT -1 OFFSET ?)",
                (self._limit,),
            )

    def _write_behind(self, key: tuple[bool, str], used: float) -> None:
        self._unwritten[key] = used
        if self._writing is None:
            self._writing = self._clock.callLater(WRITE_BEHIND, self.write)

    def token(self, identifier: str, confidential: bool) -> str:
        """The CSRF token of a session: an HMAC of its identifier with the server's secret."""
        message = f"{int(confidential)}:{identifier}".encode("ascii", "replace")
        return hmac.digest(self._secret, message, "sha256").hex()

    def new(self, confidential: bool) -> FormSession:
        """A new session, kept from now on (until idle too long or pushed out)."""
        identifier = secrets.token_hex(32)
        now = self._clock.seconds()
        self._remember((confidential, identifier), now)
        self._write_behind((confidential, identifier), now)
        return self._session(identifier, confidential)

    def find(self, identifier: str, confidential: bool) -> FormSession | None:
        """The live session C{identifier}, now used again; C{None} if there is none."""
        key = (confidential, identifier)
        now = self._clock.seconds()
        used = self._used.get(key)
        if used is None:
            found = self._db.execute(
                "SELECT used FROM sessions WHERE identifier = ? AND confidential = ?",
                (identifier, int(confidential)),
            ).fetchone()
            used = None if found is None else float(found[0])
        if used is None or now - used > self._lifetime:
            return None
        if now - used >= TOUCH_EVERY:
            used = now
            self._write_behind(key, used)
        self._remember(key, used)
        return self._session(identifier, confidential)

    def _remember(self, key: tuple[bool, str], used: float) -> None:
        self._used.pop(key, None)
        self._used[key] = used
        while len(self._used) > self._limit:
            forgotten, _ = self._used.popitem(last=False)
            self._unwritten.pop(forgotten, None)

    def _session(self, identifier: str, confidential: bool) -> FormSession:
        return FormSession(self.token(identifier, confidential), identifier, confidential)

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


def procure(
    request: IRequest, store: SessionStore, mount: Mount, *, make: bool = False
) -> FormSession | None:
    """
    The request's session, made on a GET (or when C{make}) if it has none.

    @return: C{None} when there is no session and none may be made (a HEAD,
        or a POST whose cookie has expired).
    """
    components = cast(Componentized, request)
    session = components.getComponent(ISession)
    if isinstance(session, FormSession):
        return session
    secure = bool(request.isSecure())
    sent = request.getCookie(COOKIES[secure].encode("ascii"))
    if sent:
        session = store.find(sent.decode("ascii", "replace"), secure)
    if session is None:
        if request.method != b"GET" and not make:
            return None
        session = store.new(secure)
        name, value = COOKIES[secure].encode("ascii"), session.session.encode("ascii")
        set_cookie(request, name, value, path=mount.path, max_age=SESSION_LIFETIME)
    components.setComponent(ISession, session)
    return session


def form_token(request: IRequest) -> bytes | None:
    """
    The CSRF token of a form, from its body only; C{None} when the body has
    none, or when the query string carries one too (never trusted there).
    """
    query = request.uri.partition(b"?")[2]
    if CSRF_FIELD in parse_qs(query, keep_blank_values=True):
        return None
    content_type = request.getHeader(b"content-type") or b""
    if not content_type.lower().startswith(b"application/x-www-form-urlencoded"):
        return None
    content = request.content
    content.seek(0)
    body = content.read(MAX_FORM)
    content.seek(0)
    sent = parse_qs(body, keep_blank_values=True).get(CSRF_FIELD)
    return sent[0] if sent and len(sent) == 1 else None


def same_origin(request: IRequest) -> bool:
    """
    Whether the browser says the form came from this site: its C{Origin}
    (or, without one, its C{Referer}) names this request's scheme and host.
    A request that names neither is let through (the token decides).
    """
    said = request.getHeader(b"origin") or request.getHeader(b"referer")
    if not said:
        return True
    if said == b"null":
        return False
    parts = urlsplit(said.decode("latin-1"))
    scheme = "https" if request.isSecure() else "http"
    host = (request.getHeader(b"host") or b"").decode("latin-1").lower()
    return parts.scheme == scheme and parts.netloc.lower() == host


def csrf_glue(token: str | None) -> list[Tag]:
    """
    The hidden CSRF field of a form, as Klein's C{RenderableForm.glue} makes
    it (nothing without a token).

    @param token: the session's CSRF token (L{SessionStore.token}).
    """
    if token is None:
        return []
    return list(Field.hidden(CSRF_FIELD.decode("ascii"), token).asTags())
