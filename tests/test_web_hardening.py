"""
The web front end against hostile input (issue 11's web rows): odd paths
never fail with a 500, the CSRF token is read from the form body only, is
never the session identifier and survives a restart, forms from another
origin are refused, and the C{Server} header names no versions.
"""

from __future__ import annotations

import re
from pathlib import Path

from treq.testing import StubTreq
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.web import FrontEnd
from htcpcp.web.pots.inspector import Inspector

from .helpers import fast_config, memory_server
from .test_web_support import ORIGIN, MemoryPotClient, Web, make_web

COOKIE = re.compile(r"Klein-Secure-Session=([0-9a-f]+)")


def web_in(directory: Path) -> Web:
    """A front end keeping its sessions in C{directory}, over an in-memory pot server."""
    server, clock = memory_server(fast_config())
    inspector = Inspector()
    client = MemoryPotClient(server, clock, inspector.record)
    front = FrontEnd(client, inspector=inspector, clock=clock, data_dir=directory)  # type: ignore[arg-type]
    return Web(front, client, clock, None, StubTreq(front.resource()))  # type: ignore[arg-type]


class OddPathTests(SynchronousTestCase):
    def test_double_slashes_and_nul_bytes_are_404_never_500(self) -> None:
        web = make_web()
        for path in (
            "/beans//1",
            "/api//pots",
            "/static//etc/passwd",
            "/static/app.js%00.png",
            "/history%00",
            "/static/%00",
        ):
            page = web.go(path)
            self.assertEqual(page.code, 404, path)
            self.assertNotIn("Traceback", page.page)
        self.assertEqual(self.flushLoggedErrors(), [])


class CsrfTokenTests(SynchronousTestCase):
    def test_a_token_in_the_query_string_only_is_refused(self) -> None:
        web = make_web()
        token = web.token()
        response = web.go(
            f"/brew?__csrf_protection__={token}", "POST", data={"pot": "0", "drink": "coffee"}
        )
        self.assertEqual(response.code, 403)
        self.assertNotIn("BREW", web.client.methods())

    def test_a_token_in_both_the_body_and_the_query_string_is_refused(self) -> None:
        web = make_web()
        token = web.token()
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": token}
        response = web.go(f"/brew?__csrf_protection__={token}", "POST", data=data)
        self.assertEqual(response.code, 403)
        self.assertNotIn("BREW", web.client.methods())

    def test_the_token_is_not_the_session_identifier(self) -> None:
        web = make_web()
        first = web.go("/")
        [cookie] = first.headers.getRawHeaders("set-cookie")
        found = COOKIE.search(cookie)
        assert found is not None
        session = found.group(1)
        token = web.token()
        self.assertNotEqual(token, session)
        self.assertNotIn(session, first.page)
        self.assertEqual(len(token), 64)
        self.assertEqual(web.post("/brew", {"pot": "0", "drink": "coffee"}).code, 303)

    def test_another_origin_is_refused_even_with_the_token(self) -> None:
        web = make_web()
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": web.token()}
        for header, value in (
            ("Origin", "https://evil.example"),
            ("Referer", "http://coffee.example/"),
        ):
            response = web.go("/brew", "POST", data=data, headers={header: [value]})
            self.assertEqual(response.code, 403, header)
        self.assertNotIn("BREW", web.client.methods())
        same = web.go("/brew", "POST", data=data, headers={"Origin": [ORIGIN]})
        self.assertEqual(same.code, 303)

    def test_sessions_and_tokens_survive_a_restart(self) -> None:
        directory = Path(self.mktemp())
        directory.mkdir()
        before = web_in(directory)
        [cookie] = before.go("/").headers.getRawHeaders("set-cookie")
        cookie = cookie.split(";")[0]
        token = before.token()
        before.front.sessions.close()
        after = web_in(directory)
        data = {"pot": "0", "drink": "coffee", "__csrf_protection__": token}
        brewed = after.go("/brew", "POST", data=data, headers={"Cookie": [cookie]})
        self.assertEqual(brewed.code, 303)
        self.assertEqual(after.client.methods().count("BREW"), 1)
        self.assertTrue((directory / "web-sessions.sqlite3").exists())
        after.front.sessions.close()

    def test_another_secret_makes_other_tokens(self) -> None:
        one, two = Path(self.mktemp()), Path(self.mktemp())
        one.mkdir()
        two.mkdir()
        first, second = web_in(one), web_in(two)
        identifier = "ab" * 32
        self.assertNotEqual(
            first.front.sessions.token(identifier, True),
            second.front.sessions.token(identifier, True),
        )
        first.front.sessions.close()
        second.front.sessions.close()


class ServerHeaderTests(SynchronousTestCase):
    def test_the_server_header_names_the_product_without_versions(self) -> None:
        web = make_web()
        for path in ("/", "/nowhere", "/api/pots", "/history"):
            [server] = web.go(path).headers.getRawHeaders("server")
            self.assertEqual(server, "htcpcp-web", path)
            self.assertIsNone(re.search(r"\d", server))
