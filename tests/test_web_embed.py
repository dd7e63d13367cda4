"""
The front end mounted under C{/coffee/} in another application's site, as
C{examples/embed_web.tac} does it, over real loopback ports.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from typing import Any

from twisted.application.service import IService
from twisted.internet import reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.threads import deferToThread
from twisted.persisted.sob import loadValueFromFile
from twisted.trial.unittest import TestCase

from htcpcp.service import buildPotServer
from htcpcp.storage import History

from .helpers import fast_config, free_port
from .test_web_http import Fetched, _read_event_stream, fetch

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "embed_web.tac"


class EmbeddedTests(TestCase):
    def setUp(self) -> Any:
        history = History(self.mktemp())
        self.pot = buildPotServer(fast_config(), history)
        pot_port = self.successResultOf(
            TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(self.pot.factory)
        )
        self.addCleanup(self.pot.close)
        self.addCleanup(pot_port.stopListening)
        self.port = free_port()
        saved = dict(os.environ)
        self.addCleanup(lambda: (os.environ.clear(), os.environ.update(saved)))
        os.environ["HTCPCP_POT_AT"] = f"tcp:127.0.0.1:{pot_port.getHost().port}"
        os.environ["HTCPCP_SITE"] = f"tcp:{self.port}:interface=127.0.0.1"
        service = IService(loadValueFromFile(str(EXAMPLE), "application"))
        service.startService()
        self.addCleanup(service.stopService)

    def get(self, path: str, **kwargs: Any) -> Any:
        return deferToThread(fetch, self.port, path, **kwargs)

    async def test_the_host_site_still_serves_its_own_pages(self) -> None:
        host = await self.get("/")
        self.assertIn(b"<h1>Our intranet</h1>", host.body)

    async def test_the_mount_point_redirects_to_its_slash(self) -> None:
        bare = await self.get("/coffee?x=1")
        self.assertEqual((bare.status, bare.headers["Location"]), (301, "coffee/?x=1"))

    async def test_pages_link_relative_to_the_mount_point(self) -> None:
        home = await self.get("/coffee/")
        self.assertEqual(home.status, 200)
        self.assertRegex(home.body, rb'href="\./static/style\.[0-9a-f]{12}\.css"')
        for fragment in (
            b'action="./brew"',
            b'data-events="./events"',
            b'href="./history"',
            b'href="./beans/0"',
        ):
            self.assertIn(fragment, home.body)
        self.assertIn("Path=/coffee/", home.cookies[0].split("; "))
        beans = await self.get("/coffee/beans/0")
        self.assertRegex(beans.body, rb'href="\.\./static/style\.[0-9a-f]{12}\.css"')
        self.assertIn(b'action="../theme"', beans.body)
        missing = await self.get("/coffee/no/such/page")
        self.assertEqual(missing.status, 404)
        self.assertRegex(missing.body, rb'href="\.\./\.\./static/style\.[0-9a-f]{12}\.css"')

    async def test_assets_and_events_under_the_mount_point(self) -> None:
        css = await self.get("/coffee/static/style.css", headers={"Accept-Encoding": "gzip"})
        self.assertEqual((css.status, css.headers["Content-Encoding"]), (200, "gzip"))
        self.assertEqual((await self.get("/coffee/favicon.ico")).status, 200)
        headers, body = await deferToThread(_read_event_stream, self.port, "/coffee/events")
        self.assertNotIn("content-encoding", headers)
        self.assertIn(b'data: {"ok": true', body)

    async def test_a_form_posted_under_the_mount_point(self) -> None:
        def brew() -> Fetched:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            home = fetch(self.port, "/coffee/", connection=connection)
            cookie = home.cookies[0].split(";")[0]
            token = home.body.split(b'name="__csrf_protection__" value="')[1].split(b'"')[0]
            body = b"pot=0&drink=coffee&__csrf_protection__=" + token
            headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
            return fetch(self.port, "/coffee/brew", "POST", headers, body, connection=connection)

        brewed = await deferToThread(brew)
        self.assertEqual((brewed.status, brewed.headers["Location"]), (303, "./"))
        self.assertEqual(self.pot.pots[0].state.value, "brewing")
