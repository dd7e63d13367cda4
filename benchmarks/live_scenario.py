"""The ``live`` scenario of the benchmark harness: many open pages on the web's live status.

Part of ``benchmarks/run.py``. One pot server with the web front end; ``live_clients.py`` (on the
load generator's core) opens ``LIVE_PAGES`` server-sent event streams, as that many open browser
pages would. The web server's RSS is read before and once every stream has had its first event;
then a pot is changed through the web front end (a form POST of ``/brew`` with the session's
CSRF token, as a browser would), and each stream's time to carry the change is taken.
"""

from __future__ import annotations

import http.client
import re
import sys
import time
import urllib.parse
from typing import Any

from peers import POT_WEB, Bench, started
from processes import BENCH_DIR, ServerError, ServerProcess

LIVE_PAGES = 1000
WITHIN_S = 1.0
TOKEN = re.compile(rb'name="__csrf_protection__" value="([^"]+)"')


def _brew_through_the_web(port: int) -> int:
    """Start a brew on pot 0 as a browser would (session, token, form POST); the status."""
    origin = f"http://127.0.0.1:{port}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/")
        page = conn.getresponse()
        html = page.read()
        cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
        token = TOKEN.search(html)
        if token is None or not cookie:
            raise ServerError("the home page carries no session cookie or CSRF token")
        form = urllib.parse.urlencode(
            {"pot": "0", "drink": "coffee", "__csrf_protection__": token[1].decode()}
        )
        headers = {
            "Cookie": cookie,
            "Origin": origin,
            "Referer": origin + "/",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        conn.request("POST", "/brew", body=form, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def _watch(bench: Bench, server: ServerProcess) -> dict[str, Any]:
    time.sleep(0.5)
    rss_before = server.rss_kib()
    argv = [sys.executable, str(BENCH_DIR / "live_clients.py"), "--port", str(server.port)]
    argv += ["--pages", str(LIVE_PAGES), "--within", str(WITHIN_S)]
    with bench.talking_client(argv) as client:
        opened = client.read("open", "the live pages did not open")
        time.sleep(1.0)
        rss_with = server.rss_kib()
        client.say("change")
        status = _brew_through_the_web(server.port)
        changed = client.read()
        client.end_input()
        client.process.wait(timeout=30)
    return {
        "pages": LIVE_PAGES,
        **opened,
        **changed,
        "brew_status": status,
        "within_s": WITHIN_S,
        "rss_before_kib": rss_before,
        "rss_with_kib": rss_with,
        "rss_growth_mb": round((rss_with - rss_before) * 1024 / 1e6, 1),
    }


def measure_live(bench: Bench, notes: dict[str, str]) -> dict[str, Any]:
    """``LIVE_PAGES`` live pages on one web front end: its RSS, and one change reaching them."""
    with started(bench, POT_WEB, notes) as server:
        if server is None:
            return {}
        try:
            result = _watch(bench, server)
        except (ServerError, OSError, ValueError) as error:
            notes["live"] = f"not measured: {error}"
            print(f"live: {error}", file=sys.stderr)
            return {}
    print(f"live pages: {result}", file=sys.stderr)
    return result
