# -*- test-case-name: tests.test_web_routes -*-
"""
The site's Klein application: every page and form of the front end, with
the JSON API mounted at C{api/}.

Pages (GET, never changing a pot) render HTML; C{events} streams the live
status; C{api/...} is the L{ApiApplication}, which mirrors the pages as
JSON.  Everything that changes a pot or a preference is a POST form: the
L{Requirer} prerequisite procures the session and passes the form's CSRF
check (L{checked_session}: a refusal is a 403 page, a stale token the page
again, freshly tokened, saying why), Klein's L{Form} validates the fields
(L{htcpcp.web.forms.fields}), and L{Submissions} runs the form once per
rendered form and answers with a 303 (POST-redirect-GET).  No handler is
wrapped in L{Plating.routed}, which turns refusals into a 500; pages are
L{twisted.web.template} tags flattened to bytes, the home, beans and
history pages through a L{PageCache}, flattened again only when what they
show changes.

Errors are pages too: 404 and 405 from routing, the pot's own refusals
(418, 406, 409, ...), 502/503/504 when the pot server cannot be used, and
500 for anything else, with the traceback in the log and never in the page.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from typing import Any, Final, cast

from klein import Form, Klein, RequestComponent, Requirer, Response
from klein.interfaces import ISession
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.template import Tag

from htcpcp.web.api.routes import ApiApplication, json_error
from htcpcp.web.forms.fields import (
    ADDITIONS_FIELD,
    DRINK_FIELD,
    NEXT_FIELD,
    OTHER_FIELD,
    POT_FIELD,
    THEME_FIELD,
)
from htcpcp.web.forms.outcomes import Redirect
from htcpcp.web.forms.submissions import (
    CROSS_SITE,
    FormPost,
    FormRefused,
    IFormPost,
    InvalidForm,
    StaleForm,
    Submissions,
    checked_session,
    take_notice,
)
from htcpcp.web.http.at_once import applied, is_home
from htcpcp.web.http.mount import request_mount
from htcpcp.web.http.queries import query_text
from htcpcp.web.http.responses import html_response, redirect, set_cookie
from htcpcp.web.http.routing import early_exit, handle_errors, route
from htcpcp.web.http.sessions import SessionStore, procure
from htcpcp.web.http.statics import STATIC_DIRECTORY, StaticFiles
from htcpcp.web.pages.home import (
    NOTICES,
    beans_content,
    countdowns,
    error_content,
    home_content,
    refresh_after,
)
from htcpcp.web.pages.layout import THEMES, PageContext, new_nonce, page
from htcpcp.web.pages.rendering import PageCache, page_response
from htcpcp.web.pages.reports import (
    diagnostic_content,
    diagnostics_content,
    history_content,
    inspector_content,
)
from htcpcp.web.pots.diagnostics import diagnose
from htcpcp.web.pots.errors import ErrorPage, from_failure, from_problem, web_error
from htcpcp.web.pots.gateway import PotGateway
from htcpcp.web.pots.history import history_for
from htcpcp.web.pots.inspector import Inspector
from htcpcp.web.pots.live import LiveFeed
from htcpcp.web.pots.model import Snapshot

__all__ = ["THEME_COOKIE", "WebApplication"]

THEME_COOKIE: Final = b"htcpcp-theme"
THEME_LIFETIME: Final = 365 * 86400
log = Logger()


def _port_of(address: object) -> int | None:
    """The port of a listening address, when it has one (not a UNIX socket's)."""
    port = getattr(address, "port", None)
    return port if isinstance(port, int) else None


def _wants_json(request: IRequest) -> bool:
    return request_mount(request).here.startswith("api/")


def _theme_of(request: IRequest) -> str | None:
    value = (request.getCookie(THEME_COOKIE) or b"").decode("ascii", "replace")
    return value if value in THEMES else None


def _fingerprint(document: Any) -> str:
    """A pot's JSON answer as a hashable key: equal for equal answers."""
    return json.dumps(document, sort_keys=True)


def _error_page(
    context: PageContext, error: ErrorPage, headers: Mapping[str, str] | None = None
) -> Response:
    content = error_content(context, error)
    all_headers = {**error.headers(), **(headers or {})}
    return page_response(context, error.title, content, status=error.status, headers=all_headers)


class WebApplication:
    """
    The routes of the front end over one L{PotGateway}.

    @param gateway: the way to the pots.
    @param feed: the live status streams.
    @param inspector: the recent exchanges with the pot.
    @param sessions: where form sessions are kept.
    """

    app = Klein()
    requirer = Requirer()

    def __init__(
        self,
        gateway: PotGateway,
        feed: LiveFeed,
        inspector: Inspector,
        sessions: SessionStore,
    ) -> None:
        self._gateway = gateway
        self._feed = feed
        self._inspector = inspector
        self._sessions = sessions
        self._submissions = Submissions(gateway.redact)
        self._api = ApiApplication(gateway, inspector).resource()
        self._static = StaticFiles(STATIC_DIRECTORY)
        self._home_pages = PageCache()
        self._beans_pages = PageCache()
        self._history_pages = PageCache()

    def resource(self) -> IResource:
        """The Klein resource of this application."""
        return self.app.resource()

    def _context(self, request: IRequest, *, make: bool = False) -> PageContext:
        mount = request_mount(request)
        session = procure(request, self._sessions, mount, make=make)
        if request.method != b"GET":
            mount = mount._replace(here="")
        if session is None:
            return PageContext(mount, None, _theme_of(request))
        return PageContext(mount, session.identifier, _theme_of(request), new_nonce())

    def _error(
        self, request: IRequest, error: ErrorPage, headers: Mapping[str, str] | None = None
    ) -> Response:
        if _wants_json(request):
            return json_error(error, headers)
        return _error_page(self._context(request), error, headers)

    # Forms --------------------------------------------------------------

    @requirer.prerequisite([ISession])
    async def _guard(self, request: IRequest) -> None:
        """
        Procure the session; refuse a form from elsewhere or without its CSRF
        token, and answer a stale token with the page again.
        """
        try:
            session = checked_session(request, self._sessions)
        except FormRefused:
            raise early_exit(_error_page(self._context(request), CROSS_SITE)) from None
        except StaleForm:
            raise early_exit(await self._stale(request)) from None
        post = FormPost(self._context(request), request, session)
        cast(Componentized, request).setComponent(IFormPost, post)

    async def _stale(self, request: IRequest) -> Response:
        """The home page again, with a fresh token, saying why nothing was done."""
        context = self._context(request, make=True)
        snapshot = await self._gateway.snapshot()
        note = (
            "This page was out of date (its session had expired), so nothing was done."
            " Here it is again: check it and send it again."
        )
        return self._home(context._replace(mount=context.mount._replace(here="")), snapshot, note)

    @requirer.require(
        route(app, "/brew", methods=["POST"]),
        pot=POT_FIELD,
        drink=DRINK_FIELD,
        additions=ADDITIONS_FIELD,
        other=OTHER_FIELD,
        post=RequestComponent(IFormPost),
    )
    async def brew(
        self, pot: int, drink: str, additions: tuple[str, ...], other: str, post: FormPost
    ) -> Response:
        """Start a brew: coffee, or a tea variety, with additions."""

        async def act() -> Redirect:
            info = await self._gateway.pot(pot)
            wanted = (*additions, other) if other else additions
            answer = await self._gateway.brew(info, drink.lower(), wanted)
            return self._submissions.after(post, info, answer, "brewing", ", ".join(wanted))

        return await self._submissions.submit(post, "brew", act)

    @requirer.require(
        route(app, "/pots/<int:index>/stop", methods=["POST"]), post=RequestComponent(IFormPost)
    )
    async def stop(self, index: int, post: FormPost) -> Response:
        """Stop a pot's brew early, or take a finished cup away."""

        async def act() -> Redirect:
            info = await self._gateway.pot(index)
            return self._submissions.after(post, info, await self._gateway.stop(info), "stopped")

        return await self._submissions.submit(post, f"stop-{index}", act)

    @requirer.require(
        route(app, "/pots/<int:index>/when", methods=["POST"]), post=RequestComponent(IFormPost)
    )
    async def when(self, index: int, post: FormPost) -> Response:
        """Say when: stop the milk pouring."""

        async def act() -> Redirect:
            info = await self._gateway.pot(index)
            return self._submissions.after(post, info, await self._gateway.when(info), "when")

        return await self._submissions.submit(post, f"when-{index}", act)

    @requirer.require(
        route(app, "/theme", methods=["POST"]),
        theme=THEME_FIELD,
        back=NEXT_FIELD,
        post=RequestComponent(IFormPost),
    )
    def theme(self, theme: str, back: str, post: FormPost) -> Response:
        """Remember the light or dark theme, then go back to the page."""
        path = post.context.mount.path
        set_cookie(
            post.request, THEME_COOKIE, theme.encode("ascii"), path=path, max_age=THEME_LIFETIME
        )
        return redirect(post.context.url(back))

    async def _invalid(self, request: IRequest, values: InvalidForm) -> Response:
        """A form whose fields did not validate: a 400 refusal, saying which."""
        return self._submissions.invalid(request, values)

    for _handler in (brew, theme):
        Form.onValidationFailureFor(_handler)(_invalid)
    del _handler

    @route(app, "/outcome/<string:identifier>", methods=["GET"])
    async def outcome(self, request: IRequest, identifier: str) -> Response:
        """A form's refusal, shown with its status code (reloading it sends nothing)."""
        context = self._context(request)
        session = procure(request, self._sessions, request_mount(request))
        error = None
        if session is not None:
            error = self._submissions.refusal(session, identifier)
        if error is None:
            error = web_error(404, "That message is no longer kept: go back to the pots.")
        return _error_page(context, error)

    # Pages --------------------------------------------------------------

    @route(app, "/", methods=["GET"])
    def home(self, request: IRequest) -> Response | Deferred[Response]:
        """Every pot's live status and the brew form."""
        context = self._context(request)
        notice = NOTICES.get(take_notice(request, context), "")
        snapshot = self._gateway.recent()
        if snapshot is None:
            waiting = self._gateway.snapshot()
            return waiting.addCallback(lambda taken: self._home(context, taken, notice))
        return self._home(context, snapshot, notice)

    def home_at_once(self, request: IRequest) -> bytes | None:
        """
        The home page without Klein (L{htcpcp.web.http.at_once}), when it can
        be answered at once: a GET of C{/} while the snapshot is recent.
        """
        if not is_home(request):
            return None
        snapshot = self._gateway.recent()
        if snapshot is None:
            return None
        context = self._context(request)
        notice = NOTICES.get(take_notice(request, context), "")
        return applied(self._home(context, snapshot, notice), request)

    def _home(self, context: PageContext, snapshot: Snapshot, notice: str) -> Response:
        """The home page for C{snapshot} (right away when one is recent enough)."""
        clocks = countdowns(snapshot, self._gateway.now() - snapshot.taken)
        error = None if snapshot.problem is None else from_problem(snapshot.problem)
        title = "The pots" if error is None else error.title

        def make(shared: PageContext) -> Tag:
            content = home_content(shared, snapshot, clocks, notice)
            return page(
                shared, title, content, current="", live=True, refresh=refresh_after(snapshot)
            )

        body = self._home_pages.page(context, (snapshot.fingerprint, clocks, notice), make)
        if error is None:
            return html_response(body)
        return html_response(body, error.status, error.headers())

    @route(app, "/beans/<int:index>", methods=["GET"])
    async def beans(self, request: IRequest, index: int) -> Response:
        """The bean in a pot, and the pot's properties (PROPFIND)."""
        context = self._context(request)
        info, answer = await self._gateway.beans(await self._gateway.pot(index))

        def make(shared: PageContext) -> Tag:
            return page(shared, f"Beans of {info.name}", beans_content(shared, info, answer))

        return html_response(self._beans_pages.page(context, (info, _fingerprint(answer)), make))

    @route(app, "/history", methods=["GET"])
    @route(app, "/log", methods=["GET"])
    async def history(self, request: IRequest) -> Response:
        """The brew history: totals, charts and a page of brews."""
        context = self._context(request)
        history = await history_for(self._gateway, request)
        pots = await self._gateway.pots()

        def make(shared: PageContext) -> Tag:
            content = history_content(shared, history.listing, history.sample, pots, history.pot)
            return page(shared, "History", content, current="history")

        listing, sample = _fingerprint(history.listing), _fingerprint(history.sample)
        key: Hashable = (pots, history.pot, listing, sample)
        return html_response(self._history_pages.page(context, key, make))

    @route(app, "/inspector", methods=["GET"])
    async def inspector(self, request: IRequest) -> Response:
        """The raw HTCPCP of the recent exchanges."""
        context = self._context(request)
        changes_only = query_text(request, b"show") == "changes"
        exchanges = self._inspector.recent(changes_only)
        content = inspector_content(context, exchanges, changes_only, _port_of(request.getHost()))
        return page_response(context, "Protocol inspector", content, current="inspector")

    @route(app, "/diagnostics", methods=["GET"])
    async def diagnostics(self, request: IRequest) -> Response:
        """The list of the lab's diagnostic requests."""
        context = self._context(request)
        return page_response(
            context, "Diagnostics", diagnostics_content(context), current="diagnostics"
        )

    @route(app, "/test-<string:code>", methods=["GET"])
    async def diagnostic(self, request: IRequest, code: str) -> Response:
        """Send one of the lab's bad requests and show the pot's answer, with its status."""
        context = self._context(request)
        diagnostic, answer = await diagnose(self._gateway, code)
        content = diagnostic_content(context, diagnostic, answer)
        status = answer.status if 400 <= answer.status < 600 else 200
        return page_response(
            context, f"/test-{code}", content, status=status, current="diagnostics"
        )

    # Live status, JSON API and assets ------------------------------------

    @route(app, "/events", methods=["GET"])
    def events(self, request: IRequest) -> Deferred[None] | bytes:
        """The pots' live status as server-sent events."""
        return self._feed.stream(request)

    @route(app, "/api/", branch=True)
    def api(self, request: IRequest) -> IResource:
        """The JSON API, which answers every method itself (with a 405 where it must)."""
        return self._api

    @route(app, "/static/", branch=True, methods=["GET"])
    def static(self, request: IRequest) -> IResource:
        """The stylesheet, script and images."""
        return self._static

    @route(app, "/favicon.ico", methods=["GET"])
    def favicon(self, request: IRequest) -> IResource:
        return StaticFiles(STATIC_DIRECTORY / "favicon.ico")

    @route(app, "/robots.txt", methods=["GET"])
    def robots(self, request: IRequest) -> IResource:
        return StaticFiles(STATIC_DIRECTORY / "robots.txt")

    # Errors -------------------------------------------------------------

    @handle_errors(app, Exception)
    async def failed(self, request: IRequest, failure: Failure) -> Response:
        known = from_failure(failure, self._gateway.redact)
        if known is None:
            log.failure("the web front end failed on {uri}", failure, uri=request.uri)
            return self._error(request, web_error(500))
        return self._error(request, *known)
