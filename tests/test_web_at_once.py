"""
The home page answered at once, without Klein (L{htcpcp.web.http.at_once}): the
same answer as Klein's route; every other request, and the home page
without a recent snapshot, goes through Klein.
"""

from __future__ import annotations

import re
from typing import Any

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from htcpcp.web.http.responses import _cookie_attributes
from htcpcp.web.http.security import WebRoot

from .test_web_support import CSRF, ORIGIN, _result, make_web

NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')


def _fetch(resource: IResource, path: str = "/", method: str = "GET") -> tuple[Any, str]:
    """A first visit's answer (a browser without cookies)."""
    stub = StubTreq(resource)
    response = _result(stub.request(method, ORIGIN + path, allow_redirects=False))
    return response, _result(response.text("utf-8"))


def _anonymous(page: str) -> str:
    """A page with its CSRF tokens and nonces blanked (they differ from view to view)."""
    return NONCE.sub('name="nonce" value=""', CSRF.sub('name="__csrf_protection__" value=""', page))


def _headers(response: Any) -> dict[bytes, list[bytes]]:
    skip = {b"date", b"set-cookie", b"content-length", b"transfer-encoding"}
    return {k.lower(): v for k, v in response.headers.getAllRawHeaders() if k.lower() not in skip}


class AtOnceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.web = make_web()
        self.web.go("/")  # the first view waits for a snapshot (through Klein)
        self.at_once = self.web.front.resource()
        self.klein_only = WebRoot(self.web.front.application.resource())
        self.routed: list[bytes] = []
        klein = self.at_once.original  # type: ignore[attr-defined]
        render = klein.render

        def counted(request: IRequest) -> object:
            self.routed.append(request.method + b" " + request.uri)
            return render(request)

        self.patch(klein, "render", counted)

    def test_the_home_page_is_answered_without_klein(self) -> None:
        response, page = _fetch(self.at_once)
        self.assertEqual((response.code, self.routed), (200, []))
        self.assertIn("The pots", page)

    def test_it_is_the_answer_of_klein_s_route(self) -> None:
        at_once, page = _fetch(self.at_once)
        routed, routed_page = _fetch(self.klein_only)
        self.assertEqual((at_once.code, _headers(at_once)), (routed.code, _headers(routed)))
        self.assertEqual(_anonymous(page), _anonymous(routed_page))
        for response in (at_once, routed):
            [cookie] = response.headers.getRawHeaders("set-cookie")
            self.assertIn("HttpOnly; SameSite=lax", cookie)

    def test_each_first_visit_gets_a_session_and_token_of_its_own(self) -> None:
        first, first_page = _fetch(self.at_once)
        second, second_page = _fetch(self.at_once)
        cookies = [r.headers.getRawHeaders("set-cookie")[0] for r in (first, second)]
        self.assertNotEqual(cookies[0], cookies[1])
        for cookie in cookies:
            self.assertRegex(
                cookie,
                r"^Klein-Secure-Session=[0-9a-f]{64}; Path=/; Max-Age=43200; Secure; HttpOnly;"
                r" SameSite=lax$",
            )
        self.assertNotEqual(set(CSRF.findall(first_page)), set(CSRF.findall(second_page)))
        self.assertEqual(len(set(CSRF.findall(first_page))), 1)

    def test_a_token_of_an_at_once_page_is_good_for_a_form(self) -> None:
        shown = self.web.submit("/brew", {"pot": "0", "drink": "coffee"})
        self.assertEqual(shown.code, 200)
        self.assertIn("Brewing", shown.page)

    def test_other_pages_and_methods_go_through_klein(self) -> None:
        for path, method in (("/history", "GET"), ("/", "HEAD"), ("/?x=1", "POST")):
            _fetch(self.at_once, path, method)
        self.assertEqual(self.routed, [b"GET /history", b"HEAD /", b"POST /?x=1"])

    def test_without_a_recent_snapshot_the_home_page_waits_through_klein(self) -> None:
        self.web.later(60)  # the snapshot is old now
        response, page = _fetch(self.at_once)
        self.assertEqual((response.code, self.routed), (200, [b"GET /"]))
        self.assertIn("The pots", page)


class CookieAttributeTests(SynchronousTestCase):
    def test_a_mount_path_is_sanitized_as_twisted_web_does(self) -> None:
        self.assertEqual(
            _cookie_attributes("/a;b\r\nc", 43200, True),
            b"; Path=/a b c; Max-Age=43200; Secure; HttpOnly; SameSite=lax",
        )
