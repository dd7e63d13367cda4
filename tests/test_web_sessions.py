# -*- test-case-name: tests.test_web_sessions -*-
"""
The front end's own session procurement, pinned to Klein's behaviour.

L{htcpcp.web.http.sessions.procure} does what Klein's L{SessionProcurer} does,
without its per-request search of two headers and two cookies: these tests
run Klein's procurer and ours on the same kind of request and compare what
each does, so a Klein release that renames its cookies, drops a cookie
attribute or changes how its forms check the CSRF token fails here first.
"""

from __future__ import annotations

from typing import Any

from klein import SessionProcurer
from klein._form import CSRF_PROTECTION, checkCSRF
from klein.interfaces import EarlyExit, ISession
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from htcpcp.web.http.mount import Mount
from htcpcp.web.http.sessions import CSRF_FIELD, SessionStore, procure


def _request(
    *, secure: bool, method: bytes = b"GET", cookies: dict[bytes, bytes] | None = None
) -> Any:
    channel = DummyChannel()
    if secure:
        channel.transport = DummyChannel.SSL()
    request = Request(channel)
    request.method = method
    request.uri = b"/"
    request.prepath = []
    request.postpath = [b""]
    request.received_cookies = dict(cookies or {})
    return request


def _cookie(request: Any) -> tuple[str, str, set[str]]:
    """The name, value and attributes (lower-case, values dropped) of the one cookie set."""
    [cookie] = request.cookies
    pair, *attributes = cookie.decode("ascii").split("; ")
    name, _, value = pair.partition("=")
    return name, value, {attribute.partition("=")[0].lower() for attribute in attributes}


class CookieTests(TestCase):
    """The cookie a first visit gets is the one Klein would give, with more protection."""

    def setUp(self) -> None:
        self.store = SessionStore(Clock())
        self.addCleanup(self.store.close)

    def klein_cookie(self, secure: bool) -> tuple[str, str, set[str]]:
        request = _request(secure=secure)
        self.successResultOf(SessionProcurer(self.store).procureSession(request))
        return _cookie(request)

    def ours(self, secure: bool) -> tuple[str, str, set[str]]:
        request = _request(secure=secure)
        procure(request, self.store, Mount())
        return _cookie(request)

    def test_plain_http_cookie_has_kleins_name(self) -> None:
        self.assertEqual(self.ours(False)[0], self.klein_cookie(False)[0])
        self.assertEqual(self.ours(False)[0], "Klein-INSECURE-Session")

    def test_tls_cookie_has_kleins_name(self) -> None:
        self.assertEqual(self.ours(True)[0], self.klein_cookie(True)[0])
        self.assertEqual(self.ours(True)[0], "Klein-Secure-Session")

    def test_every_attribute_klein_sets_is_set_and_samesite_too(self) -> None:
        for secure in (False, True):
            ours = self.ours(secure)[2]
            self.assertLessEqual(self.klein_cookie(secure)[2] - {"domain"}, ours)
            self.assertIn("samesite", ours)
            self.assertIn("httponly", ours)
            self.assertEqual("secure" in ours, secure)

    def test_the_cookie_sent_back_finds_the_same_session(self) -> None:
        name, value, _ = self.ours(True)
        again = _request(secure=True, cookies={name.encode(): value.encode()})
        found = procure(again, self.store, Mount())
        self.assertEqual(found, self.store.find(value, True))
        self.assertEqual(found.session if found else None, value)
        self.assertEqual(again.cookies, [])

    def test_a_post_without_a_session_gets_none_as_with_klein(self) -> None:
        request = _request(secure=True, method=b"POST")
        self.assertIsNone(procure(request, self.store, Mount()))
        self.assertEqual(request.cookies, [])


class FormCheckTests(TestCase):
    """Klein's own CSRF check accepts the session L{procure} sets, with its token only."""

    def setUp(self) -> None:
        self.store = SessionStore(Clock())
        self.addCleanup(self.store.close)

    def post(self, token: bytes | None) -> Any:
        first = _request(secure=True)
        session = procure(first, self.store, Mount())
        assert session is not None
        name, value, _ = _cookie(first)
        post = _request(secure=True, method=b"POST", cookies={name.encode(): value.encode()})
        procure(post, self.store, Mount())
        post.args = {} if token is None else {CSRF_PROTECTION.encode("ascii"): [token]}
        return post, session

    def test_the_csrf_field_has_kleins_name(self) -> None:
        self.assertEqual(CSRF_FIELD, CSRF_PROTECTION.encode("ascii"))

    def test_klein_finds_the_session_as_its_isession(self) -> None:
        post, session = self.post(None)
        self.assertEqual(ISession(post), session)

    def test_kleins_check_passes_the_sessions_token(self) -> None:
        post, session = self.post(None)
        post.args = {CSRF_FIELD: [session.identifier.encode("ascii")]}
        checkCSRF(post)

    def test_kleins_check_refuses_the_cookie_value_as_a_token(self) -> None:
        post, session = self.post(None)
        post.args = {CSRF_FIELD: [session.session.encode("ascii")]}
        self.assertRaises(EarlyExit, checkCSRF, post)

    def test_kleins_check_refuses_a_missing_token(self) -> None:
        post, _ = self.post(None)
        self.assertRaises(EarlyExit, checkCSRF, post)
