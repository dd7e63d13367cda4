"""
The rendered-page cache: pages are flattened once per state, each view gets
its own session's CSRF token, and a change to the pots is seen at once.
"""

from __future__ import annotations

import re

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.template import Tag, tags

from htcpcp.cache import RecentCache
from htcpcp.web.http.mount import Mount
from htcpcp.web.pages.layout import PageContext
from htcpcp.web.pages.rendering import DOCTYPE, PageCache, flatten_page

from .test_web_routes import milky_config
from .test_web_support import CSRF, ORIGIN, Web, _result, make_web, unreachable

TOKEN_A = "a" * 64
TOKEN_B = "b" * 64


def _form(context: PageContext) -> Tag:
    return tags.html(tags.body(context.post_form("brew", tags.button("Brew"))))


class Browser:
    """A second browser on the same front end: a cookie jar of its own."""

    def __init__(self, web: Web) -> None:
        self.stub = StubTreq(web.front.resource())

    def go(self, path: str, method: str = "GET", **kwargs: object) -> tuple[int, str]:
        response = _result(
            self.stub.request(method, ORIGIN + path, allow_redirects=False, **kwargs)
        )
        return response.code, _result(response.text("utf-8"))


def _tokens(page: str) -> set[str]:
    return set(CSRF.findall(page))


class PageCacheTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.cache = PageCache(limit=2)
        self.made: list[PageContext] = []

    def make(self, context: PageContext) -> Tag:
        self.made.append(context)
        return _form(context)

    def test_flatten_page_is_the_doctype_then_the_html(self) -> None:
        self.assertEqual(flatten_page(tags.p("a & b")), DOCTYPE + b"<p>a &amp; b</p>")

    def test_a_page_is_made_once_for_every_token(self) -> None:
        first = self.cache.page(PageContext(Mount(), TOKEN_A), "key", self.make)
        second = self.cache.page(PageContext(Mount(), TOKEN_B), "key", self.make)
        self.assertEqual(len(self.made), 1)
        self.assertIn(TOKEN_A.encode(), first)
        self.assertNotIn(TOKEN_B.encode(), first)
        self.assertIn(TOKEN_B.encode(), second)
        self.assertNotIn(TOKEN_A.encode(), second)
        self.assertEqual(first.replace(TOKEN_A.encode(), TOKEN_B.encode()), second)

    def test_the_page_kept_is_made_without_a_real_token(self) -> None:
        self.cache.page(PageContext(Mount(), TOKEN_A), "key", self.make)
        [shared] = self.made
        self.assertNotIn(shared.token, (None, TOKEN_A))
        self.assertEqual(shared.mount, Mount())

    def test_key_context_and_session_make_other_pages(self) -> None:
        self.cache.page(PageContext(Mount(), TOKEN_A), "key", self.make)
        self.cache.page(PageContext(Mount(), TOKEN_A), "other", self.make)
        self.cache.page(PageContext(Mount(), TOKEN_A, "dark"), "key", self.make)
        without = self.cache.page(PageContext(Mount()), "key", self.make)
        self.assertEqual(len(self.made), 4)
        self.assertNotIn(b"<form", without)

    def test_least_recently_used_pages_go(self) -> None:
        for key in ("one", "two", "one", "three", "one", "two"):
            self.cache.page(PageContext(Mount(), TOKEN_A), key, self.make)
        self.assertEqual(len(self.cache), 2)
        self.assertEqual(len(self.made), 4)


class CachedHomePageTests(SynchronousTestCase):
    def test_two_sessions_get_their_own_tokens(self) -> None:
        web = make_web()
        other = Browser(web)
        first = web.go("/").page
        _, second = other.go("/")
        [mine], [theirs] = _tokens(first), _tokens(second)
        self.assertNotEqual(mine, theirs)
        self.assertNotIn(mine, second)
        self.assertNotIn(theirs, first)
        nonce = re.compile(r'name="nonce" value="[0-9a-f]+"')
        self.assertEqual(nonce.sub("", first.replace(mine, theirs)), nonce.sub("", second))
        self.assertEqual(len(web.front.application._home_pages), 1)
        self.assertEqual(_tokens(web.go("/").page), {mine})

    def test_a_token_from_another_sessions_page_is_refused(self) -> None:
        web = make_web()
        other = Browser(web)
        other.go("/")
        token = web.token()
        code, page = other.go(
            "/brew", "POST", data={"pot": "0", "drink": "coffee", "__csrf_protection__": token}
        )
        self.assertEqual(code, 200)
        self.assertIn("nothing was done", page)
        self.assertNotIn(token, page)
        self.assertNotIn("BREW", web.client.methods())

    def test_a_view_without_a_session_does_not_change_those_with_one(self) -> None:
        web = make_web()
        head = web.go("/", "HEAD")
        self.assertEqual((head.code, head.page), (200, ""))
        self.assertEqual(len(_tokens(web.go("/").page)), 1)
        self.assertEqual(len(web.front.application._home_pages), 2)

    def test_a_change_is_seen_on_the_next_view(self) -> None:
        web = make_web(milky_config())
        self.assertEqual(web.go("/").page.count('data-state="idle"'), 2)
        web.go("/")
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": ["Cream"]})
        brewing = web.go("/").page
        self.assertIn('data-state="brewing"', brewing)
        self.assertIn("Coffee with Cream", brewing)
        web.post("/pots/0/stop", {})
        self.assertIn("Stopped early", web.go("/").page)

    def test_the_countdown_moves_within_one_snapshot(self) -> None:
        web = make_web(milky_config())
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        self.assertRegex(web.go("/").page, r'data-seconds="2\.0">0:02<')
        web.clock.advance(0.5)
        self.assertRegex(web.go("/").page, r'data-seconds="1\.5">0:02<')
        web.clock.advance(0.6)
        self.assertRegex(web.go("/").page, r'data-seconds="0\.9">0:01<')

    def test_the_pot_server_going_away_and_back_is_seen(self) -> None:
        web = make_web()
        web.go("/")
        web.client.down = unreachable()
        web.later(web.front.gateway.heartbeat)
        away = web.go("/")
        self.assertEqual(away.code, 503)
        self.assertEqual(away.headers.getRawHeaders("retry-after"), ["5"])
        self.assertIn('id="problem"', away.page)
        web.client.down = None
        web.later(1.5)
        back = web.go("/")
        self.assertEqual(back.code, 200)
        self.assertNotIn('id="problem"', back.page)

    def test_notice_and_theme_make_their_own_pages(self) -> None:
        web = make_web()
        plain = web.go("/").page
        noticed = web.go("/", headers={"Cookie": "htcpcp-notice=brewing"}).page
        dark = web.go("/", headers={"Cookie": "htcpcp-theme=dark"}).page
        self.assertNotIn("Brewing has started.", plain)
        self.assertIn("Brewing has started.", noticed)
        self.assertIn('data-theme="dark"', dark)
        self.assertNotIn("data-theme", plain)


class CachedBeansAndHistoryTests(SynchronousTestCase):
    def test_beans_follow_the_pot(self) -> None:
        web = make_web()
        self.assertIn("No coffee in ducky", web.go("/beans/0").page)
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        self.assertNotIn("No coffee in ducky", web.go("/beans/0").page)
        _, theirs = Browser(web).go("/beans/0")
        [mine] = _tokens(web.go("/beans/0").page)
        self.assertNotIn(mine, theirs)

    def test_history_follows_the_brews(self) -> None:
        web = make_web()
        self.assertNotIn("<td>Cream</td>", web.go("/history").page)
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": ["Cream"]})
        self.assertIn("<td>Cream</td>", web.go("/history").page)
        self.assertNotEqual(
            _tokens(web.go("/history").page), _tokens(Browser(web).go("/history")[1])
        )


class RecentCacheTests(SynchronousTestCase):
    """What the page cache and the forms' outcomes are kept in."""

    def test_storing_past_the_limit_forgets_the_least_recently_stored(self) -> None:
        cache: RecentCache[str, int] = RecentCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        cache.put("a", 3)  # stored again: now the most recent
        cache.put("c", 4)
        self.assertEqual((cache.get("a"), cache.get("b"), cache.get("c")), (3, None, 4))
        self.assertEqual(len(cache), 2)

    def test_reading_does_not_make_an_entry_recent(self) -> None:
        cache: RecentCache[str, int] = RecentCache(2)
        cache.put("a", 1)
        cache.put("b", 2)
        self.assertEqual(cache.get("a"), 1)
        cache.put("c", 3)
        self.assertEqual((cache.get("a"), cache.get("b")), (None, 2))

    def test_discard_forgets_one_entry_and_ignores_unknown_ones(self) -> None:
        cache: RecentCache[str, int] = RecentCache(3)
        cache.put("a", 1)
        cache.discard("a")
        cache.discard("never")
        self.assertEqual((cache.get("a"), len(cache)), (None, 0))
