# -*- test-case-name: tests.test_web_routes -*-
"""
A state-changing form's way through the front end, from its CSRF check to
the redirect that answers it.

L{checked_session} is the check every form passes before its fields are
read: a form from another site or without a CSRF token in its body is
refused (L{FormRefused}, a 403 page), and one whose token is not its
session's (an expired session: L{StaleForm}) is answered with the page
again.  A form that passed is a L{FormPost}, which the application's
Klein prerequisite sets on the request for the route to be given.

L{Submissions} runs a form's action once per rendered form
(L{htcpcp.web.forms.outcomes.Outcomes}) and answers with a 303: success
to the page the action names, with a one-time notice (a cookie, so a
reload does not bring it back); a refusal, the pot's or the front end's,
to C{outcome/ID}, which shows it with its status code.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol, cast

from klein import Field, Response
from klein.interfaces import ValidationError
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.web.iweb import IRequest
from zope.interface import Interface

from htcpcp.client import ClientError
from htcpcp.message import Response as PotResponse
from htcpcp.web.forms.outcomes import Outcomes, Redirect
from htcpcp.web.http.mount import request_mount
from htcpcp.web.http.responses import redirect, set_cookie
from htcpcp.web.http.sessions import FormSession, SessionStore, form_token, procure, same_origin
from htcpcp.web.pages.layout import NONCE_FIELD, PageContext
from htcpcp.web.pots.errors import ErrorPage, from_answer, from_problem, web_error
from htcpcp.web.pots.gateway import UnknownPot, problem_for
from htcpcp.web.pots.model import PotAnswerError, PotInfo

__all__ = [
    "CROSS_SITE",
    "NOTICE_COOKIE",
    "FormPost",
    "FormRefused",
    "IFormPost",
    "InvalidForm",
    "StaleForm",
    "Submissions",
    "checked_session",
    "form_post",
    "take_notice",
]

NOTICE_COOKIE: Final = b"htcpcp-notice"
NOTICE_LIFETIME: Final = 60
MAX_NONCE: Final = 64
CROSS_SITE: Final = ErrorPage(
    403,
    "Refused",
    "This form has no valid security token, so nothing was done. It may come"
    " from another site: go back to the pots and try again.",
)
"""The page a form from elsewhere, or without its CSRF token, is refused with."""
log = Logger()


class IFormPost(Interface):
    """Marker interface under which a form's request carries its L{FormPost}."""


@dataclass(frozen=True)
class FormPost:
    """A form submission that passed the CSRF check: its page context and request."""

    context: PageContext
    request: IRequest
    session: FormSession


class FormRefused(Exception):
    """A form from another site, or without a CSRF token in its body."""


class StaleForm(Exception):
    """A form whose CSRF token is not its session's: the session has expired."""


class InvalidForm(Protocol):
    """What Klein gives a form's validation failure handler (its C{FieldValues})."""

    validationErrors: Mapping[Field, ValidationError]


def checked_session(request: IRequest, sessions: SessionStore) -> FormSession:
    """
    The session of a form that passed the CSRF check.

    @raise FormRefused: for a form from elsewhere or without its token.
    @raise StaleForm: for a form whose token is not its session's.
    """
    sent = form_token(request)
    if sent is None or not same_origin(request):
        log.info("refused a form without a CSRF token in its body, or from another site")
        raise FormRefused()
    session = procure(request, sessions, request_mount(request))
    if session is None or not hmac.compare_digest(sent, session.identifier.encode("ascii")):
        log.info("a form with a stale CSRF token: shown again")
        raise StaleForm()
    return session


def form_post(request: IRequest) -> FormPost:
    """The L{FormPost} the CSRF check set on C{request}."""
    post = cast(Componentized, request).getComponent(IFormPost)
    assert isinstance(post, FormPost), "no form passed the CSRF check"
    return post


def take_notice(request: IRequest, context: PageContext) -> str:
    """The name of the notice a form left for this page (C{""} if none), forgotten once read."""
    sent = (request.getCookie(NOTICE_COOKIE) or b"").decode("ascii", "replace")
    if sent:
        set_cookie(request, NOTICE_COOKIE, b"", path=context.mount.path, max_age=0)
    return sent


def _form_text(request: IRequest, name: bytes) -> str:
    raw = request.args.get(name, [b""])[0]
    text: str = raw.decode("ascii", "replace")
    return text[:MAX_NONCE]


class Submissions:
    """
    Every form's action run once per rendered form, and answered with a 303.

    @param redact: hides what people should not see in a pot server's problem.
    """

    def __init__(self, redact: Callable[[str], str] = str) -> None:
        self._outcomes = Outcomes()
        self._redact = redact

    async def submit(
        self, post: FormPost, form: str, act: Callable[[], Awaitable[Redirect]]
    ) -> Response:
        """
        Run C{act} once for this rendered C{form}, and redirect: to the
        page it names with its notice, or to the refusal it led to.
        """

        async def outcome() -> Redirect:
            try:
                return await act()
            except UnknownPot:
                return self.refused(post, web_error(404, "There is no such pot."))
            except (ClientError, PotAnswerError) as error:
                return self.refused(post, from_problem(problem_for(error, self._redact)))

        nonce = _form_text(post.request, NONCE_FIELD)
        answer = await self._outcomes.once(post.session.session, nonce, form, outcome)
        if answer.notice:
            notice = answer.notice.encode("ascii")
            path = post.context.mount.path
            set_cookie(post.request, NOTICE_COOKIE, notice, path=path, max_age=NOTICE_LIFETIME)
        return redirect(post.context.url(answer.location))

    def refused(self, post: FormPost, error: ErrorPage) -> Redirect:
        """To the page that shows C{error}, kept for the post's session."""
        return Redirect(f"outcome/{self._outcomes.keep(post.session.session, error)}")

    def after(
        self, post: FormPost, info: PotInfo, answer: PotResponse, done: str, asked: str = ""
    ) -> Redirect:
        """
        To the home page with the notice C{done} when the pot did it (200),
        else to its refusal.

        @param asked: the additions asked for, comma-separated (see L{from_answer}).
        """
        if answer.status == 200:
            return Redirect("", done)
        return self.refused(post, from_answer(answer, info, done, asked))

    def invalid(self, request: IRequest, values: InvalidForm) -> Response:
        """A form whose fields did not validate: a 400 refusal, saying which."""
        errors = "; ".join(
            f"{field.formFieldName}: {error.message}"
            for field, error in values.validationErrors.items()
        )
        post = form_post(request)
        return redirect(post.context.url(self.refused(post, web_error(400, errors)).location))

    def refusal(self, session: FormSession, identifier: str) -> ErrorPage | None:
        """The refusal C{identifier}, if it is C{session}'s."""
        return self._outcomes.refusal(session.session, identifier)
