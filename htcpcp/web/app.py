# -*- test-case-name: tests.test_web_routes -*-
"""
The Klein application: every route of the front end.

Pages (GET, never changing a pot) render HTML; C{api/...} mirrors them as
JSON; C{events} streams the live status.  Everything that changes a pot or
a preference is a POST form: the L{Requirer} prerequisite procures the
session, refuses a form from another site or without a CSRF token in its
body with a 403 page, and answers a stale token (an expired session) with
the page again, freshly tokened, saying why.  Klein's L{Form} validates the
fields (lengths and shapes, so nothing odd reaches an HTCPCP header).
Every outcome answers 303 (POST-redirect-GET): success to the home page
with a one-time notice (a cookie, so a reload does not bring it back), a
refusal to C{outcome/ID}, which shows it with its status code; a repeated
submission of one rendered form is answered as the first was
(L{Outcomes}).  A POST
handler is never wrapped in L{Plating.routed}, which turns refusals into a
500 (see the project's Klein notes); pages are rendered with
L{twisted.web.template} directly, to bytes.  The home, beans and history
pages are kept in a L{PageCache} and flattened again only when what they
show changes; each view puts in its own session's CSRF token.

Errors are pages too: 404 and 405 from routing, the pot's own refusals
(418, 406, 409, ...), 502/503/504 when the pot server cannot be used, and
500 for anything else, with the traceback in the log and never in the page.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import attr
from klein import Field, Form, Klein, RequestComponent, Requirer, Response
from klein.interfaces import EarlyExit, ISession, ValidationError
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from twisted.web.template import Flattenable, Tag
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect
from zope.interface import Interface

from htcpcp.client import ClientError
from htcpcp.message import Response as PotResponse
from htcpcp.web import api
from htcpcp.web.at_once import applied, is_home
from htcpcp.web.diagnostics import DIAGNOSTICS, Diagnostic
from htcpcp.web.errors import ErrorPage, from_answer, from_problem, web_error
from htcpcp.web.gateway import POT_LIMIT, PotGateway, UnknownPot, problem_for
from htcpcp.web.inspector import Inspector
from htcpcp.web.layout import THEMES, PageContext, page
from htcpcp.web.live import LiveFeed
from htcpcp.web.model import PotAnswerError, PotInfo, Snapshot
from htcpcp.web.mount import IMount, Mount, safe_next
from htcpcp.web.outcomes import NONCE_FIELD, Outcomes, new_nonce
from htcpcp.web.pages import (
    NOTICES,
    beans_content,
    countdowns,
    error_content,
    home_content,
    refresh_after,
)
from htcpcp.web.rendering import PageCache, flatten_page
from htcpcp.web.reports import (
    diagnostic_content,
    diagnostics_content,
    history_content,
    inspector_content,
)
from htcpcp.web.sessions import FormSession, SessionStore, form_token, procure, same_origin
from htcpcp.web.statics import STATIC_DIRECTORY, StaticFiles

__all__ = ["THEME_COOKIE", "BadQuery", "FormPost", "WebApplication"]

THEME_COOKIE: Final = b"htcpcp-theme"
NOTICE_COOKIE: Final = b"htcpcp-notice"
NOTICE_LIFETIME: Final = 60
THEME_LIFETIME: Final = 365 * 86400
HISTORY_PAGE: Final = 20
CHART_SAMPLE: Final = 200
MAX_ADDITIONS: Final = 20
MAX_TEXT: Final = 40
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z")
ADDITION: Final = re.compile(r"[^\x00-\x1f\x7f,;\"=]{1,40}\Z")
log = Logger()


class IFormPost(Interface):
    """Marker interface under which a form's request carries its L{FormPost}."""


@dataclass(frozen=True)
class FormPost:
    """A form submission that passed the CSRF check: its page context and request."""

    context: PageContext
    request: IRequest
    session: FormSession


class BadQuery(Exception):
    """A query parameter that cannot be used; the message says which."""


@attr.s(auto_attribs=True, frozen=True)
class _FormField(Field):
    """
    A form field that reads every value of its name, undecodable bytes replaced.

    Klein's L{Field} reads one value and fails with a 500 on bytes that are
    not UTF-8; C{many} fields get the list of values.
    """

    many: bool = False

    def extractValue(self, request: IRequest) -> Any:
        assert self.formFieldName is not None
        raw = request.args.get(self.formFieldName.encode("utf-8"))  # type: ignore[attr-defined]
        if not raw:
            return None
        values = [value.decode("utf-8", "replace") for value in raw]
        return values if self.many else values[0]


def _pot_index(text: str) -> int:
    if not text.isdigit() or int(text) >= POT_LIMIT:
        raise ValidationError("no such pot")
    return int(text)


def _name(text: str) -> str:
    if not NAME.match(text):
        raise ValidationError("a drink is up to 40 letters, digits and dashes")
    return text


def _addition(text: str) -> str:
    text = text.strip()
    if not ADDITION.match(text):
        raise ValidationError('an addition is up to 40 characters, without , ; " or =')
    return text


def _additions(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_ADDITIONS:
        raise ValidationError(f"at most {MAX_ADDITIONS} additions")
    return tuple(_addition(value) for value in values)


def _other(text: str) -> str:
    return _addition(text) if text.strip() else ""


def _theme(text: str) -> str:
    if text not in THEMES:
        raise ValidationError("the theme is light or dark")
    return text


def _next(text: str) -> str:
    return safe_next(text[:256])


POT_FIELD: Final = _FormField(converter=_pot_index, formInputType="number")
DRINK_FIELD: Final = _FormField(converter=_name, formInputType="text")
ADDITIONS_FIELD: Final = _FormField(
    converter=_additions, formInputType="checkbox", required=False, default=(), many=True
)
OTHER_FIELD: Final = _FormField(converter=_other, formInputType="text", required=False, default="")
THEME_FIELD: Final = _FormField(converter=_theme, formInputType="submit")
NEXT_FIELD: Final = _FormField(
    converter=_next, formInputType="hidden", formFieldName="next", required=False, default=""
)


def _query_text(request: IRequest, name: bytes, limit: int = MAX_TEXT) -> str:
    raw = request.args.get(name, [b""])[0]  # type: ignore[attr-defined]
    text = raw.decode("utf-8", "replace")
    if len(text) > limit:
        raise BadQuery(f"{name.decode()} is longer than {limit} characters")
    return text


def _port_of(address: object) -> int | None:
    """The port of a listening address, when it has one (not a UNIX socket's)."""
    port = getattr(address, "port", None)
    return port if isinstance(port, int) else None


def _query_page(request: IRequest) -> int:
    text = _query_text(request, b"page") or "1"
    if not text.isdigit() or not 1 <= int(text) <= 1_000_000:
        raise BadQuery("page is a whole number from 1")
    return int(text)


def _mount(request: IRequest) -> Mount:
    found = request.getComponent(IMount)  # type: ignore[attr-defined]
    return found if isinstance(found, Mount) else Mount()


def _wants_json(request: IRequest) -> bool:
    return _mount(request).here.startswith("api/")


def _theme_of(request: IRequest) -> str | None:
    value = (request.getCookie(THEME_COOKIE) or b"").decode("ascii", "replace")
    return value if value in THEMES else None


def _json(
    document: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        code=status,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
        body=json.dumps(document).encode("utf-8"),
    )


def _fingerprint(document: Any) -> str:
    """A pot's JSON answer as a hashable key: equal for equal answers."""
    return json.dumps(document, sort_keys=True)


def _html_response(
    body: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        code=status,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
        body=body,
    )


def _html(
    context: PageContext,
    title: str,
    content: Iterable[Flattenable],
    *,
    status: int = 200,
    current: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = flatten_page(page(context, title, content, current=current))
    return _html_response(body, status, headers)


def _redirect(location: str) -> Response:
    return Response(code=303, headers={"Location": location}, body=b"")


def _form_text(request: IRequest, name: bytes) -> str:
    raw = request.args.get(name, [b""])[0]  # type: ignore[attr-defined]
    return raw.decode("ascii", "replace")[:64]


def _error_headers(error: ErrorPage) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}


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
        self._outcomes = Outcomes()
        self._static = StaticFiles(STATIC_DIRECTORY)
        self._home_pages = PageCache()
        self._beans_pages = PageCache()
        self._history_pages = PageCache()

    def resource(self) -> IResource:
        """The Klein resource of this application."""
        return self.app.resource()  # type: ignore[no-any-return]

    def _context(self, request: IRequest, *, make: bool = False) -> PageContext:
        mount = _mount(request)
        session = procure(request, self._sessions, mount, make=make)
        if request.method != b"GET":
            mount = mount._replace(here="")
        if session is None:
            return PageContext(mount, None, _theme_of(request))
        return PageContext(mount, session.identifier, _theme_of(request), new_nonce())

    async def _error(
        self, request: IRequest, error: ErrorPage, headers: Mapping[str, str] | None = None
    ) -> Response:
        headers = {**_error_headers(error), **(headers or {})}
        if _wants_json(request):
            return _json(api.error_document(error), error.status, headers)
        context = self._context(request)
        content = error_content(context, error)
        return _html(context, error.title, content, status=error.status, headers=headers)

    # Forms --------------------------------------------------------------

    @requirer.prerequisite([ISession])
    async def _guard(self, request: IRequest) -> None:
        """
        Procure the session; refuse a form from elsewhere or without its CSRF
        token, and answer a stale token with the page again.
        """
        sent = form_token(request)
        if sent is None or not same_origin(request):
            log.info("refused a form without a CSRF token in its body, or from another site")
            context = self._context(request)
            refusal = ErrorPage(
                403,
                "Refused",
                "This form has no valid security token, so nothing was done. It may come"
                " from another site: go back to the pots and try again.",
            )
            content = error_content(context, refusal)
            raise EarlyExit(_html(context, "Refused", content, status=403))
        session = procure(request, self._sessions, _mount(request))
        if session is None or not hmac.compare_digest(sent, session.identifier.encode("ascii")):
            log.info("a form with a stale CSRF token: shown again")
            raise EarlyExit(await self._stale(request))
        context = self._context(request)
        request.setComponent(IFormPost, FormPost(context, request, session))  # type: ignore[attr-defined]

    async def _stale(self, request: IRequest) -> Response:
        """The home page again, with a fresh token, saying why nothing was done."""
        context = self._context(request, make=True)
        snapshot = await self._gateway.snapshot()
        note = (
            "This page was out of date (its session had expired), so nothing was done."
            " Here it is again: check it and send it again."
        )
        return self._home(context._replace(mount=context.mount._replace(here="")), snapshot, note)

    async def _submit(
        self, post: FormPost, form: str, act: Callable[[], Awaitable[tuple[str, str]]]
    ) -> Response:
        """
        Run a form's action once per rendered form, and redirect: to the
        page it names with its notice, or to the refusal it led to.
        """

        async def outcome() -> tuple[str, str]:
            try:
                return await act()
            except UnknownPot:
                return self._refused(post, web_error(404, "There is no such pot."))
            except (ClientError, PotAnswerError) as error:
                return self._refused(post, from_problem(problem_for(error, self._gateway.redact)))

        nonce = _form_text(post.request, NONCE_FIELD)
        location, notice = await self._outcomes.once(post.session.session, nonce, form, outcome)
        if notice:
            post.request.addCookie(  # type: ignore[attr-defined]
                NOTICE_COOKIE,
                notice.encode("ascii"),
                path=post.context.mount.path.encode("utf-8"),
                max_age=str(NOTICE_LIFETIME).encode("ascii"),
                secure=post.request.isSecure(),
                httpOnly=True,
                sameSite="lax",
            )
        return _redirect(post.context.url(location))

    def _refused(self, post: FormPost, error: ErrorPage) -> tuple[str, str]:
        return f"outcome/{self._outcomes.keep(post.session.session, error)}", ""

    def _after(
        self, post: FormPost, info: PotInfo, answer: PotResponse, done: str, asked: str = ""
    ) -> tuple[str, str]:
        if answer.status == 200:
            return "", done
        return self._refused(post, from_answer(answer, info, done, asked))

    @requirer.require(
        app.route("/brew", methods=["POST"]),
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

        async def act() -> tuple[str, str]:
            info = await self._gateway.pot(pot)
            wanted = (*additions, other) if other else additions
            answer = await self._gateway.brew(info, drink.lower(), wanted)
            return self._after(post, info, answer, "brewing", ", ".join(wanted))

        return await self._submit(post, "brew", act)

    @requirer.require(
        app.route("/pots/<int:index>/stop", methods=["POST"]), post=RequestComponent(IFormPost)
    )
    async def stop(self, index: int, post: FormPost) -> Response:
        """Stop a pot's brew early, or take a finished cup away."""

        async def act() -> tuple[str, str]:
            info = await self._gateway.pot(index)
            return self._after(post, info, await self._gateway.stop(info), "stopped")

        return await self._submit(post, f"stop-{index}", act)

    @requirer.require(
        app.route("/pots/<int:index>/when", methods=["POST"]), post=RequestComponent(IFormPost)
    )
    async def when(self, index: int, post: FormPost) -> Response:
        """Say when: stop the milk pouring."""

        async def act() -> tuple[str, str]:
            info = await self._gateway.pot(index)
            return self._after(post, info, await self._gateway.when(info), "when")

        return await self._submit(post, f"when-{index}", act)

    @requirer.require(
        app.route("/theme", methods=["POST"]),
        theme=THEME_FIELD,
        back=NEXT_FIELD,
        post=RequestComponent(IFormPost),
    )
    def theme(self, theme: str, back: str, post: FormPost) -> Response:
        """Remember the light or dark theme, then go back to the page."""
        request = post.request
        request.addCookie(  # type: ignore[attr-defined]
            THEME_COOKIE,
            theme.encode("ascii"),
            path=post.context.mount.path.encode("utf-8"),
            max_age=str(THEME_LIFETIME).encode("ascii"),
            secure=request.isSecure(),
            httpOnly=True,
            sameSite="lax",
        )
        return _redirect(post.context.url(back))

    async def _invalid(self, request: IRequest, values: Any) -> Response:
        """A form whose fields did not validate: a 400 refusal, saying which."""
        errors = "; ".join(
            f"{field.formFieldName}: {error.message}"
            for field, error in values.validationErrors.items()
        )
        post = request.getComponent(IFormPost)  # type: ignore[attr-defined]
        location, _ = self._refused(post, web_error(400, errors))
        return _redirect(post.context.url(location))

    for _handler in (brew, theme):
        Form.onValidationFailureFor(_handler)(_invalid)
    del _handler

    @app.route("/outcome/<string:identifier>", methods=["GET"])
    async def outcome(self, request: IRequest, identifier: str) -> Response:
        """A form's refusal, shown with its status code (reloading it sends nothing)."""
        context = self._context(request)
        session = procure(request, self._sessions, _mount(request))
        error = None
        if session is not None:
            error = self._outcomes.refusal(session.session, identifier)
        if error is None:
            error = web_error(404, "That message is no longer kept: go back to the pots.")
        content = error_content(context, error)
        return _html(
            context, error.title, content, status=error.status, headers=_error_headers(error)
        )

    # Pages --------------------------------------------------------------

    @app.route("/", methods=["GET"])
    def home(self, request: IRequest) -> Response | Deferred[Response]:
        """Every pot's live status and the brew form."""
        context = self._context(request)
        notice = self._notice(request, context)
        snapshot = self._gateway.recent()
        if snapshot is None:
            waiting = self._gateway.snapshot()
            return waiting.addCallback(lambda taken: self._home(context, taken, notice))
        return self._home(context, snapshot, notice)

    def home_at_once(self, request: IRequest) -> bytes | None:
        """
        The home page without Klein (L{htcpcp.web.at_once}), when it can be
        answered at once: a GET of C{/} while the snapshot is recent.
        """
        if not is_home(request):
            return None
        snapshot = self._gateway.recent()
        if snapshot is None:
            return None
        context = self._context(request)
        notice = self._notice(request, context)
        return applied(self._home(context, snapshot, notice), request)

    def _notice(self, request: IRequest, context: PageContext) -> str:
        """The notice a form left for this page, forgotten once read."""
        sent = (request.getCookie(NOTICE_COOKIE) or b"").decode("ascii", "replace")
        if not sent:
            return ""
        request.addCookie(  # type: ignore[attr-defined]
            NOTICE_COOKIE,
            b"",
            path=context.mount.path.encode("utf-8"),
            max_age=b"0",
            secure=request.isSecure(),
            httpOnly=True,
            sameSite="lax",
        )
        return NOTICES.get(sent, "")

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
            return _html_response(body)
        return _html_response(body, error.status, _error_headers(error))

    @app.route("/beans/<int:index>", methods=["GET"])
    async def beans(self, request: IRequest, index: int) -> Response:
        """The bean in a pot, and the pot's properties (PROPFIND)."""
        context = self._context(request)
        info, answer = await self._gateway.beans(await self._gateway.pot(index))

        def make(shared: PageContext) -> Tag:
            return page(shared, f"Beans of {info.name}", beans_content(shared, info, answer))

        return _html_response(self._beans_pages.page(context, (info, _fingerprint(answer)), make))

    async def _history(
        self, request: IRequest
    ) -> tuple[Mapping[str, Any], Sequence[Any], str | None]:
        page_number = _query_page(request)
        pot = _query_text(request, b"pot") or None
        listing = await self._gateway.history(page_number, HISTORY_PAGE, pot)
        sample = await self._gateway.history(1, CHART_SAMPLE, pot)
        return listing, list(sample.get("brews") or []), pot

    @app.route("/history", methods=["GET"])
    @app.route("/log", methods=["GET"])
    async def history(self, request: IRequest) -> Response:
        """The brew history: totals, charts and a page of brews."""
        context = self._context(request)
        listing, sample, pot = await self._history(request)
        pots = await self._gateway.pots()

        def make(shared: PageContext) -> Tag:
            content = history_content(shared, listing, sample, pots, pot)
            return page(shared, "History", content, current="history")

        key: Hashable = (pots, pot, _fingerprint(listing), _fingerprint(sample))
        return _html_response(self._history_pages.page(context, key, make))

    @app.route("/inspector", methods=["GET"])
    async def inspector(self, request: IRequest) -> Response:
        """The raw HTCPCP of the recent exchanges."""
        context = self._context(request)
        changes_only = _query_text(request, b"show") == "changes"
        exchanges = self._inspector.recent(changes_only)
        content = inspector_content(context, exchanges, changes_only, _port_of(request.getHost()))
        return _html(context, "Protocol inspector", content, current="inspector")

    @app.route("/diagnostics", methods=["GET"])
    async def diagnostics(self, request: IRequest) -> Response:
        """The list of the lab's diagnostic requests."""
        context = self._context(request)
        return _html(context, "Diagnostics", diagnostics_content(context), current="diagnostics")

    async def _diagnose(self, code: str) -> tuple[Diagnostic, PotResponse]:
        diagnostic = DIAGNOSTICS.get(code)
        if diagnostic is None:
            raise NotFound()
        return diagnostic, await self._gateway.send_raw(diagnostic.request)

    @app.route("/test-<string:code>", methods=["GET"])
    async def diagnostic(self, request: IRequest, code: str) -> Response:
        """Send one of the lab's bad requests and show the pot's answer, with its status."""
        context = self._context(request)
        diagnostic, answer = await self._diagnose(code)
        content = diagnostic_content(context, diagnostic, answer)
        status = answer.status if 400 <= answer.status < 600 else 200
        return _html(context, f"/test-{code}", content, status=status, current="diagnostics")

    # Live status, JSON API and assets ------------------------------------

    @app.route("/events", methods=["GET"])
    def events(self, request: IRequest) -> Any:
        """The pots' live status as server-sent events."""
        return self._feed.stream(request)

    @app.route("/api/pots", methods=["GET"])
    async def api_pots(self, request: IRequest) -> Response:
        snapshot = await self._gateway.snapshot()
        document = api.snapshot_document(snapshot, self._gateway.now())
        status = snapshot.problem.status if snapshot.problem else 200
        return _json(document, status)

    @app.route("/api/pots/<int:index>/beans", methods=["GET"])
    async def api_beans(self, request: IRequest, index: int) -> Response:
        info, body = await self._gateway.beans(await self._gateway.pot(index))
        return _json(api.beans_document(info, body))

    @app.route("/api/history", methods=["GET"])
    async def api_history(self, request: IRequest) -> Response:
        listing, _, _ = await self._history(request)
        return _json(listing)

    @app.route("/api/inspector", methods=["GET"])
    def api_inspector(self, request: IRequest) -> Response:
        changes_only = _query_text(request, b"show") == "changes"
        exchanges = self._inspector.recent(changes_only)
        return _json({"exchanges": [api.exchange_document(e) for e in exchanges]})

    @app.route("/api/test-<string:code>", methods=["GET"])
    async def api_diagnostic(self, request: IRequest, code: str) -> Response:
        diagnostic, answer = await self._diagnose(code)
        return _json(api.diagnostic_document(diagnostic, answer))

    @app.route("/static/", branch=True, methods=["GET"])
    def static(self, request: IRequest) -> IResource:
        """The stylesheet, script and images."""
        return self._static

    @app.route("/favicon.ico", methods=["GET"])
    def favicon(self, request: IRequest) -> IResource:
        return StaticFiles(STATIC_DIRECTORY / "favicon.ico")

    @app.route("/robots.txt", methods=["GET"])
    def robots(self, request: IRequest) -> IResource:
        return StaticFiles(STATIC_DIRECTORY / "robots.txt")

    # Errors -------------------------------------------------------------

    @app.handle_errors(NotFound, UnknownPot, RequestRedirect)
    async def not_found(self, request: IRequest, failure: Failure) -> Response:
        detail = "There is no such pot." if failure.check(UnknownPot) else ""
        return await self._error(request, web_error(404, detail))

    @app.handle_errors(MethodNotAllowed)
    async def not_allowed(self, request: IRequest, failure: Failure) -> Response:
        allowed = ", ".join(failure.value.valid_methods or ())
        return await self._error(
            request, web_error(405, f"Allowed: {allowed}."), {"Allow": allowed}
        )

    @app.handle_errors(BadQuery)
    async def bad_query(self, request: IRequest, failure: Failure) -> Response:
        return await self._error(request, web_error(400, str(failure.value)))

    @app.handle_errors(ClientError, PotAnswerError)
    async def pot_trouble(self, request: IRequest, failure: Failure) -> Response:
        problem = problem_for(failure.value, self._gateway.redact)
        return await self._error(request, from_problem(problem))

    @app.handle_errors
    async def failed(self, request: IRequest, failure: Failure) -> Response:
        log.failure("the web front end failed on {uri}", failure, uri=request.uri)
        return await self._error(request, web_error(500))
