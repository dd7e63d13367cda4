"""
The web front end's routes, through StubTreq, over an in-memory pot server.

Pages, forms and their CSRF protection, the pot's refusals as error pages,
the pages shown when the pot server cannot be used, cookies and headers,
and the JSON API.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from klein.interfaces import NoSuchSession, SessionMechanism
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.client import BadResponse, PotTimeout, PotTLSError
from htcpcp.web.http.mount import safe_next
from htcpcp.web.http.sessions import SessionStore

from .helpers import fast_config
from .test_web_support import make_web, unreachable

HTTP = "http://coffee.example"


def milky_config():
    """Two-second coffee, milk that pours for up to twenty seconds."""
    config = fast_config().with_brew_time(2.0)
    pots = (replace(config.pots[0], pour_time=20.0), *config.pots[1:])
    return replace(config, pots=pots)


class HomeTests(SynchronousTestCase):
    def test_home_shows_every_pot_and_the_brew_form(self) -> None:
        web = make_web()
        page = web.go("/")
        self.assertEqual(page.code, 200)
        for name in ("ducky", "tea"):
            self.assertIn(f">{name}</h2>", page.page)
        self.assertIn('id="brew-form"', page.page)
        self.assertIn('value="earl-grey" data-pots="1"', page.page)
        self.assertIn('value="Whisky" /> Whisky</label>', page.page)
        self.assertIn('data-live="1"', page.page)
        self.assertIn("text/html; charset=utf-8", page.headers.getRawHeaders("content-type")[0])

    def test_brew_with_milk_then_say_when(self) -> None:
        web = make_web(milky_config())
        brewed = web.post("/brew", {"pot": "0", "drink": "coffee", "additions": ["Cream"]})
        self.assertEqual(brewed.code, 303)
        self.assertEqual(brewed.headers.getRawHeaders("location"), ["./"])
        brewing = web.go("/").page
        self.assertIn('data-state="brewing"', brewing)
        self.assertIn("Coffee with Cream", brewing)
        self.assertIn("Brewing has started.", brewing)
        self.assertNotIn("Brewing has started.", web.go("/").page)
        self.assertRegex(brewing, r'data-seconds="2\.0">0:02<')
        web.later(2.5)
        pouring = web.go("/").page
        self.assertIn('data-state="pouring"', pouring)
        self.assertRegex(pouring, r'action="./pots/0/when"[^>]*data-show="pouring">')
        said = web.post("/pots/0/when", {})
        self.assertEqual(said.headers.getRawHeaders("location"), ["../../"])
        self.assertIn('data-state="ready"', web.go("/").page)
        [brew] = web.history.brews.values()
        self.assertEqual((brew.outcome, brew.additions), ("ready", ("Cream",)))
        history = web.go("/history").page
        self.assertIn("<td>Cream</td>", history)
        self.assertIn("outcome-ready", history)

    def test_stop_ends_a_brew(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "1", "drink": "earl-grey"})
        stopped = web.post("/pots/1/stop", {})
        self.assertEqual(stopped.code, 303)
        self.assertIn("Stopped early", web.go("/").page)
        [stop] = [data for data in web.client.sent if data.endswith(b"stop")]
        self.assertTrue(stop.startswith(b"BREW /pot-1 "), stop)
        self.assertIn(b"Content-Type: message/teapot", stop)

    def test_forms_are_hidden_in_states_they_do_not_apply_to(self) -> None:
        page = make_web().go("/").page
        self.assertRegex(page, r'action="./pots/0/stop"[^>]*data-show="brewing pouring" hidden=')


class CsrfTests(SynchronousTestCase):
    def assertRefused(self, response, web) -> None:
        self.assertEqual(response.code, 403)
        self.assertIn("no valid security token", response.page)
        self.assertNotIn("BREW", web.client.methods())

    def assertShownAgain(self, response, web) -> None:
        """A stale token: nothing done, the page again with a fresh token, saying why."""
        self.assertEqual(response.code, 200)
        self.assertIn("This page was out of date", response.page)
        self.assertIn('id="brew-form"', response.page)
        self.assertNotIn("BREW", web.client.methods())

    def test_form_without_token_is_refused(self) -> None:
        web = make_web()
        web.go("/")
        response = web.go("/brew", "POST", data={"pot": "0", "drink": "coffee"})
        self.assertRefused(response, web)

    def test_form_with_another_token_is_refused(self) -> None:
        web = make_web()
        web.go("/")
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": "ab" * 32}
        self.assertShownAgain(web.go("/brew", "POST", data=data), web)

    def test_form_without_a_session_is_refused(self) -> None:
        web = make_web()
        token = make_web().token()
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": token}
        self.assertShownAgain(web.go("/brew", "POST", data=data), web)

    def test_stop_when_and_theme_need_the_token_too(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        for path in ("/pots/0/stop", "/pots/0/when", "/theme"):
            response = web.go(path, "POST", data={"theme": "dark"})
            self.assertEqual(response.code, 403, path)
            self.assertIsNone(response.headers.getRawHeaders("set-cookie"))
        self.assertEqual(web.client.methods().count("BREW"), 1)
        self.assertNotIn("WHEN", web.client.methods())

    def test_get_never_changes_a_pot(self) -> None:
        web = make_web()
        for path in ("/brew", "/pots/0/stop", "/pots/0/when", "/theme"):
            response = web.go(path + "?pot=0&drink=coffee")
            self.assertEqual(response.code, 405, path)
            self.assertEqual(response.headers.getRawHeaders("allow"), ["POST"])
        self.assertEqual(set(web.client.methods()) - {"GET", "PROPFIND"}, set())


class RefusalPageTests(SynchronousTestCase):
    def test_coffee_from_the_teapot_is_418(self) -> None:
        page = make_web().submit("/brew", {"pot": "1", "drink": "coffee"})
        self.assertEqual(page.code, 418)
        self.assertIn("<h1>I'm a teapot</h1>", page.page)
        self.assertIn("tea said: <q>I'm a teapot", page.page)

    def test_an_addition_the_pot_lacks_is_406_listing_its_additions(self) -> None:
        page = make_web().submit("/brew", {"pot": "0", "drink": "coffee", "other": "Chamomile"})
        self.assertEqual(page.code, 406)
        listing = re.search(r'<ul class="addition-list" id="pot-additions">(.*?)</ul>', page.page)
        assert listing is not None
        self.assertIn("<li>Whisky</li>", listing.group(1))
        self.assertIn("<li>Oat milk</li>", listing.group(1))
        self.assertNotIn("Chamomile", listing.group(1))

    def test_a_busy_pot_is_409_with_the_time_left(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        web.later(10)
        page = web.submit("/brew", {"pot": "0", "drink": "coffee"})
        self.assertEqual(page.code, 409)
        self.assertEqual(page.headers.getRawHeaders("retry-after"), ["20"])
        self.assertIn("Try again in 20 s.", page.page)

    def test_say_when_with_no_milk_pouring_is_409(self) -> None:
        page = make_web().submit("/pots/0/when", {})
        self.assertEqual(page.code, 409)
        self.assertIn("<h1>No milk is pouring</h1>", page.page)
        self.assertIn("nothing to say when to", page.page)

    def test_tea_with_milk_the_pot_forbids_is_403(self) -> None:
        page = make_web().submit("/brew", {"pot": "1", "drink": "green", "additions": "Cream"})
        self.assertEqual(page.code, 403)
        self.assertIn("Not done here", page.page)

    def test_a_variety_the_pot_lacks_is_404(self) -> None:
        page = make_web().submit("/brew", {"pot": "0", "drink": "earl-grey"})
        self.assertEqual(page.code, 404)
        self.assertIn("has no variety", page.page)

    def test_unknown_pages_and_pots_are_404(self) -> None:
        web = make_web()
        for path in ("/nowhere", "/beans/7", "/test-999"):
            page = web.go(path)
            self.assertEqual(page.code, 404, path)
            self.assertIn("<h1>Not found</h1>", page.page)
        self.assertEqual(web.submit("/pots/9/stop", {}).code, 404)

    def test_invalid_fields_are_400_saying_which(self) -> None:
        web = make_web()
        cases = [
            ({"pot": "zero", "drink": "coffee"}, "pot: no such pot"),
            ({"pot": "0", "drink": "coffee;rm"}, "drink: a drink is"),
            ({"pot": "1", "drink": "earl grey"}, "drink: a drink is"),
            ({"pot": "1", "drink": ".."}, "drink: a drink is"),
            ({"pot": "0", "drink": "coffee", "other": "x" * 41}, "other: an addition is"),
            ({"pot": "0", "drink": "coffee", "additions": "Cream,Rum"}, "additions: an addition"),
            ({"pot": "0", "drink": "coffee", "additions": ["Rum"] * 21}, "at most 20 additions"),
            ({"pot": "0", "drink": "coffee", "other": "Rum\r\nX-Evil: 1"}, "other: an addition"),
            ({"pot": "0"}, "drink: a value was required"),
        ]
        for fields, message in cases:
            page = web.submit("/brew", fields)
            self.assertEqual(page.code, 400, fields)
            self.assertIn(message, page.page)
        self.assertNotIn("BREW", web.client.methods())

    def test_undecodable_bytes_are_refused_not_a_crash(self) -> None:
        web = make_web()
        token = web.token()
        body = b"pot=0&drink=%ff%fe&__csrf_protection__=" + token.encode()
        headers = {"Content-Type": ["application/x-www-form-urlencoded"]}
        page = web.go("/brew", "POST", data=body, headers=headers)
        self.assertEqual(page.code, 303)
        [location] = page.headers.getRawHeaders("location")
        self.assertEqual(web.go("/" + location[2:]).code, 400)

    def test_internal_failure_is_500_without_traceback(self) -> None:
        web = make_web()
        web.client.down = RuntimeError("secret internal detail")
        page = web.go("/")
        self.assertEqual(page.code, 500)
        self.assertIn("Something went wrong", page.page)
        self.assertNotIn("secret internal detail", page.page)
        self.assertNotIn("Traceback", page.page)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class PotAwayTests(SynchronousTestCase):
    def test_every_page_renders_while_the_pot_server_is_away(self) -> None:
        web = make_web()
        web.client.down = unreachable()
        expected = {
            "/": 503,
            "/beans/0": 503,
            "/history": 503,
            "/test-400": 503,
            "/inspector": 200,
            "/diagnostics": 200,
            "/nowhere": 404,
        }
        for path, status in expected.items():
            page = web.go(path)
            self.assertEqual(page.code, status, path)
            self.assertIn('<nav class="site-nav"', page.page)
        home = web.go("/")
        self.assertIn("The pot server cannot be reached", home.page)
        self.assertIn("refused the connection", home.page)
        self.assertEqual(home.headers.getRawHeaders("retry-after"), ["5"])
        self.assertEqual(web.submit("/brew", {"pot": "0", "drink": "coffee"}).code, 503)

    def test_timeouts_and_tls_failures_are_504_and_502(self) -> None:
        for error, status in (
            (PotTimeout("no answer within 10 s"), 504),
            (PotTLSError("TLS: not trusted"), 502),
            (BadResponse("gibberish"), 502),
        ):
            web = make_web()
            web.client.down = error
            self.assertEqual(web.go("/").code, status, error)

    def test_the_front_end_recovers_when_the_pot_server_returns(self) -> None:
        web = make_web()
        web.client.down = unreachable()
        self.assertEqual(web.go("/").code, 503)
        web.client.down = None
        web.later(1.0)
        page = web.go("/")
        self.assertEqual(page.code, 200)
        self.assertIn(">ducky</h2>", page.page)


class PageTests(SynchronousTestCase):
    def test_beans_page_shows_the_bean_being_brewed(self) -> None:
        web = make_web()
        self.assertIn("a bean is chosen when a brew starts", web.go("/beans/0").page)
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        page = web.go("/beans/0").page
        self.assertIn("<h2>Yirgacheffe</h2>", page)
        self.assertIn("Ethiopia", page)
        self.assertIn("●●●○○", page)
        self.assertIn("leaves, not beans", web.go("/beans/1").page)

    def test_links_are_relative_to_the_page(self) -> None:
        page = make_web().go("/beans/0").page
        self.assertRegex(page, r'href="\.\./static/style\.[0-9a-f]{12}\.css"')
        self.assertIn('href="../history"', page)
        self.assertIn('action="../theme"', page)
        self.assertIn('data-events="../events"', page)

    def test_history_is_paginated_with_totals_and_charts(self) -> None:
        web = make_web(milky_config())
        for _ in range(23):
            web.post("/brew", {"pot": "0", "drink": "coffee", "additions": "Rum"})
            web.later(3)
        web.post("/brew", {"pot": "1", "drink": "darjeeling", "additions": "Lemon"})
        first = web.go("/history").page
        self.assertIn("<dt>Brews</dt><dd>24</dd>", first)
        self.assertIn("<dt>Ready</dt><dd>23</dd>", first)
        self.assertIn("Page 1 of 2", first)
        self.assertIn('href="./history?page=2" rel="next"', first)
        self.assertEqual(first.count("<tr><td><time"), 20)
        self.assertIn("Brews per 5 minutes", first)
        self.assertRegex(first, r"<title>[^<]+: 24 brews</title>")
        self.assertIn("<title>Rum: 23</title>", first)
        second = web.go("/history?page=2").page
        self.assertEqual(second.count("<tr><td><time"), 4)
        self.assertIn('href="./history?page=1" rel="prev"', second)
        only_tea = web.go("/history?pot=tea").page
        self.assertIn("<dt>Brews</dt><dd>1</dd>", only_tea)
        self.assertIn("darjeeling tea", only_tea)

    def test_history_refuses_bad_queries(self) -> None:
        web = make_web()
        for query in ("page=0", "page=two", "pot=" + "x" * 41):
            self.assertEqual(web.go("/history?" + query).code, 400, query)

    def test_inspector_shows_raw_exchanges(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": "Cream"})
        web.go("/")
        page = web.go("/inspector").page
        self.assertIn("BREW /pot-0 HTCPCP/1.1\r\nHost: ducky", page)
        self.assertIn("Accept-Additions: Cream", page)
        self.assertIn("HTCPCP/1.1 200 OK", page)
        self.assertIn("GET /pot-0 HTCPCP/1.1", page)
        changes = web.go("/inspector?show=changes").page
        self.assertIn("BREW /pot-0", changes)
        self.assertNotIn("GET /pot-0", changes)

    def test_diagnostics_send_the_labs_bad_requests(self) -> None:
        web = make_web()
        for code, sent in (
            ("400", "GET caffeine://ducky HTTP/1.1"),
            ("404", "GET coffee://psyduck HTTP/1.1"),
            ("415", "Content-Type: application/tea-pot-command"),
            ("501", "MILK coffee://ducky HTTP/1.1"),
        ):
            page = web.go(f"/test-{code}")
            self.assertEqual(page.code, int(code))
            self.assertIn(f'id="answer-status">{code} ', page.page)
            self.assertIn(sent, page.page)
            self.assertIn(f"HTCPCP/1.1 {code} ", page.page)
        self.assertEqual(web.go("/").page.count('data-state="idle"'), 2)
        index = web.go("/diagnostics").page
        self.assertIn('href="./test-415"', index)

    def test_head_answers_without_a_body(self) -> None:
        web = make_web()
        for path in ("/", "/events", "/history"):
            response = web.go(path, "HEAD")
            self.assertEqual(response.code, 200, path)
            self.assertEqual(response.page, "")
        self.assertEqual(len(web.front.feed), 0)


class CookieAndHeaderTests(SynchronousTestCase):
    def test_session_cookie_is_secure_httponly_samesite_under_tls(self) -> None:
        [cookie] = make_web().go("/").headers.getRawHeaders("set-cookie")
        self.assertTrue(cookie.startswith("Klein-Secure-Session="), cookie)
        for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
            self.assertIn(attribute, cookie.split("; "))

    def test_a_returning_browser_keeps_its_session(self) -> None:
        web = make_web()
        first = web.go("/")
        self.assertEqual(len(first.headers.getRawHeaders("set-cookie")), 1)
        second = web.go("/")
        self.assertIsNone(second.headers.getRawHeaders("set-cookie"))
        token = web.token()
        self.assertIn(f'value="{token}"', second.page)
        self.assertEqual(web.token(), token)

    def test_plain_http_cookie_is_not_secure(self) -> None:
        [cookie] = make_web().go("/", origin=HTTP).headers.getRawHeaders("set-cookie")
        self.assertTrue(cookie.startswith("Klein-INSECURE-Session="), cookie)
        self.assertNotIn("Secure", cookie.split("; "))
        self.assertIn("SameSite=lax", cookie.split("; "))

    def test_security_headers_and_hsts_only_under_tls(self) -> None:
        web = make_web()
        secure = web.go("/").headers
        csp = secure.getRawHeaders("content-security-policy")[0]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(secure.getRawHeaders("x-content-type-options"), ["nosniff"])
        self.assertEqual(secure.getRawHeaders("referrer-policy"), ["same-origin"])
        self.assertEqual(secure.getRawHeaders("strict-transport-security"), ["max-age=31536000"])
        plain = web.go("/", origin=HTTP).headers
        self.assertIsNone(plain.getRawHeaders("strict-transport-security"))
        self.assertEqual(plain.getRawHeaders("x-content-type-options"), ["nosniff"])

    def test_no_inline_script_or_style(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        for path in ("/", "/history", "/beans/0", "/inspector", "/test-400"):
            page = web.go(path).page
            self.assertNotRegex(page, r"<script>|<style|style=|onclick|javascript:", path)

    def test_theme_choice_is_remembered_in_a_cookie(self) -> None:
        web = make_web()
        response = web.post("/theme", {"theme": "dark", "next": "history?page=1"})
        self.assertEqual(response.code, 303)
        self.assertEqual(response.headers.getRawHeaders("location"), ["./history?page=1"])
        cookie = response.headers.getRawHeaders("set-cookie")[-1]
        self.assertTrue(cookie.startswith("htcpcp-theme=dark"))
        for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
            self.assertIn(attribute, cookie.split("; "))
        page = web.go("/history").page
        self.assertIn('<html lang="en" data-theme="dark">', page)
        self.assertIn(
            'value="dark" class="theme-choice" title="Use the dark theme" aria-pressed', page
        )

    def test_theme_refuses_other_values_and_foreign_destinations(self) -> None:
        web = make_web()
        self.assertEqual(web.submit("/theme", {"theme": "neon"}).code, 400)
        elsewhere = web.post("/theme", {"theme": "light", "next": "//evil.example/"})
        self.assertEqual(elsewhere.headers.getRawHeaders("location"), ["./"])

    def test_safe_next(self) -> None:
        for good in ("", "history", "history?page=2&pot=tea", "beans/0"):
            self.assertEqual(safe_next(good), good)
        for bad in ("//evil", "/abs", "https://evil", "../up", "a/../../b", "x\\y", "a b"):
            self.assertEqual(safe_next(bad), "", bad)


class SessionStoreTests(SynchronousTestCase):
    def test_sessions_are_bounded_and_expire(self) -> None:
        clock = Clock()
        store = SessionStore(clock, limit=2, lifetime=60)
        made = [
            self.successResultOf(store.newSession(True, SessionMechanism.Cookie)) for _ in range(3)
        ]
        self.assertEqual(len(store), 2)

        def load(session):
            return store.loadSession(session.session, True, SessionMechanism.Cookie)

        self.failureResultOf(load(made[0]), NoSuchSession)
        self.assertEqual(self.successResultOf(load(made[1])), made[1])
        self.failureResultOf(
            store.loadSession(made[1].session, False, SessionMechanism.Cookie), NoSuchSession
        )
        clock.advance(61)
        self.failureResultOf(load(made[2]), NoSuchSession)

    def test_an_expired_session_cookie_cannot_post(self) -> None:
        web = make_web()
        token = web.token()
        web.later(13 * 3600)
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": token}
        self.assertIn("This page was out of date", web.go("/brew", "POST", data=data).page)
        self.assertNotIn("BREW", web.client.methods())


class ApiTests(SynchronousTestCase):
    def json(self, web, path: str):
        response = web.go(path)
        self.assertEqual(
            response.headers.getRawHeaders("content-type"), ["application/json; charset=utf-8"]
        )
        return response.code, json.loads(response.page)

    def test_pots_mirror_the_home_page(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": "Cream"})
        web.later(0.5)
        status, document = self.json(web, "/api/pots")
        self.assertEqual(status, 200)
        self.assertTrue(document["ok"])
        ducky, tea = document["pots"]
        self.assertEqual(
            (ducky["name"], ducky["state"], ducky["label"]), ("ducky", "brewing", "Brewing")
        )
        self.assertEqual(ducky["summary"], "Coffee with Cream")
        self.assertEqual(ducky["timer_label"], "Ready in")
        self.assertAlmostEqual(ducky["seconds_left"], 29.5, delta=0.01)
        self.assertEqual(tea["varieties"]["earl-grey"], 240.0)

    def test_other_documents(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        _, beans = self.json(web, "/api/pots/0/beans")
        self.assertEqual(beans["propfind"]["bean"]["name"], "Yirgacheffe")
        _, history = self.json(web, "/api/history")
        self.assertEqual(history["total"], 1)
        _, inspector = self.json(web, "/api/inspector?show=changes")
        self.assertEqual([e["method"] for e in inspector["exchanges"]], ["BREW"])
        _, diagnostic = self.json(web, "/api/test-501")
        self.assertEqual((diagnostic["status"], diagnostic["reason"]), (501, "Not Implemented"))

    def test_history_asks_the_pot_server_once(self) -> None:
        web = make_web()
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        sent: list[bytes] = []
        send = web.client._send

        def spy(data: bytes, **options: Any) -> Any:
            sent.append(data.split(b"\r\n", 1)[0])
            return send(data, **options)

        self.patch(web.client, "_send", spy)
        _, history = self.json(web, "/api/history?page=1")
        self.assertEqual(sent, [b"GET /log?page=1&per_page=20 HTCPCP/1.1"])
        self.assertEqual(history["total"], 1)

    def test_errors_are_json_under_api(self) -> None:
        web = make_web()
        status, document = self.json(web, "/api/nowhere")
        self.assertEqual((status, document["error"]["title"]), (404, "Not found"))
        web.client.down = unreachable()
        web.later(web.front.gateway.heartbeat)
        status, document = self.json(web, "/api/pots")
        self.assertEqual(status, 503)
        self.assertFalse(document["ok"])
        self.assertEqual(document["problem"]["status"], 503)
