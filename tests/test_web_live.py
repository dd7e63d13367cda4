"""
Live status: the pots asked only as often as needed (at a pot's next
change, after an action, a slow heartbeat while anyone watches, nothing
while nobody does) however many browsers watch, server-sent events, the
listing of the pots and the probing of servers without it, and recovery
when the pot server returns.
"""

from __future__ import annotations

import json

from treq import collect
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from htcpcp.message import Response
from htcpcp.web.pots.gateway import PotGateway

from .test_web_routes import milky_config
from .test_web_support import ORIGIN, make_web, unreachable


class PendingGets:
    """A pot client with one coffee pot whose GETs wait until the test answers them."""

    def __init__(self) -> None:
        self.pending: list[Deferred[Response]] = []

    def propfind(self, target: str) -> Deferred[Response]:
        body = b'{"pot": {"name": "p", "kind": "coffee", "brew_time": 1,'
        body += b' "pour_time": 1, "additions": []}}'
        status = 200 if target == "/pot-0" else 404
        return succeed(Response("HTCPCP/1.1", status, "", {}, body))

    def get(self, target: str) -> Deferred[Response]:
        if target == "/pots":
            return succeed(Response("HTCPCP/1.1", 404, "Not Found", {}, b""))
        self.pending.append(Deferred())
        return self.pending[-1]


def events(chunks: list[bytes]) -> list[dict]:
    """The data events in what a stream delivered so far."""
    text = b"".join(chunks).decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


HEARTBEAT = 15.0
"""The front end's default heartbeat (docs/web.md): at least 10 s."""


class SharedStatusTests(SynchronousTestCase):
    def test_many_page_views_share_one_snapshot_until_it_is_due(self) -> None:
        web = make_web()
        for _ in range(10):
            self.assertEqual(web.go("/").code, 200)
            self.assertEqual(web.go("/api/pots").code, 200)
        self.assertEqual(
            [data.split(b"\r\n")[0] for data in web.client.sent], [b"GET /pots HTCPCP/1.1"]
        )
        web.later(HEARTBEAT - 0.1)
        web.go("/")
        self.assertEqual(len(web.client.sent), 1)
        web.later(0.1)
        web.go("/")
        self.assertEqual(len(web.client.sent), 2)

    def test_the_default_heartbeat_is_at_least_ten_seconds(self) -> None:
        gateway = PotGateway(PendingGets(), Clock())  # type: ignore[arg-type]
        self.assertEqual(gateway.heartbeat, HEARTBEAT)

    def test_idle_pots_are_listed_not_asked_and_busy_ones_are_asked(self) -> None:
        web = make_web()
        web.go("/")
        self.assertEqual(web.client.methods(), ["GET"])
        web.post("/brew", {"pot": "1", "drink": "earl-grey"})
        web.go("/")
        asked = [data.split(b"\r\n")[0] for data in web.client.sent[-2:]]
        self.assertEqual(asked, [b"GET /pots HTCPCP/1.1", b"GET /pot-1 HTCPCP/1.1"])

    def test_a_brewing_pot_is_asked_again_when_it_says_it_will_change(self) -> None:
        web = make_web(milky_config(), heartbeat=60.0)
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": ["Cream"]})
        snapshot = self.successResultOf(web.front.gateway.snapshot())
        self.assertEqual(snapshot.pots[0].state, "brewing")
        self.assertAlmostEqual(snapshot.due - snapshot.taken, 2.0 + 0.1, places=3)
        web.later(1.9)
        self.assertIs(web.front.gateway.recent(), snapshot)
        web.later(0.25)
        self.assertIsNone(web.front.gateway.recent())
        self.assertEqual(
            self.successResultOf(web.front.gateway.snapshot()).pots[0].state, "pouring"
        )

    def test_recent_is_the_last_snapshot_until_it_is_due(self) -> None:
        web = make_web()
        gateway = web.front.gateway
        self.assertIsNone(gateway.recent())
        taken = self.successResultOf(gateway.snapshot())
        self.assertIs(gateway.recent(), taken)
        web.later(HEARTBEAT - 0.1)
        self.assertIs(gateway.recent(), taken)
        web.later(0.1)
        self.assertIsNone(gateway.recent())

    def test_a_change_is_seen_at_once(self) -> None:
        web = make_web()
        web.go("/")
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        self.assertIn('data-state="brewing"', web.go("/").page)

    def test_a_server_without_the_listing_is_probed_and_every_pot_asked(self) -> None:
        web = make_web(listing=False)
        for _ in range(3):
            web.go("/")
        targets = [data.split(b"\r\n")[0].decode() for data in web.client.sent]
        self.assertEqual(
            targets,
            [
                "GET /pots HTCPCP/1.1",
                "PROPFIND /pot-0 HTCPCP/1.1",
                "PROPFIND /pot-1 HTCPCP/1.1",
                "PROPFIND /pot-2 HTCPCP/1.1",
                "GET /pot-0 HTCPCP/1.1",
                "GET /pot-1 HTCPCP/1.1",
            ],
        )
        web.later(HEARTBEAT)
        web.go("/")
        self.assertEqual(web.client.methods().count("PROPFIND"), 3)
        self.assertEqual(web.client.methods().count("GET"), 5)

    def test_concurrent_callers_share_the_requests_in_flight(self) -> None:
        client = PendingGets()
        answers = client.pending
        gateway = PotGateway(client, Clock())  # type: ignore[arg-type]
        waiting = [gateway.snapshot() for _ in range(5)]
        self.assertEqual(len(answers), 1)
        answers[0].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "brewing"}'))
        snapshots = [self.successResultOf(each) for each in waiting]
        self.assertEqual({id(s) for s in snapshots}, {id(snapshots[0])})
        self.assertEqual(snapshots[0].pots[0].state, "brewing")

    def test_the_catalogue_is_rediscovered_after_a_problem(self) -> None:
        web = make_web(listing=False)
        web.go("/")
        web.client.down = unreachable()
        web.later(HEARTBEAT)
        self.assertEqual(web.go("/").code, 503)
        web.client.down = None
        web.later(1.0)
        before = web.client.methods().count("PROPFIND")
        self.assertEqual(web.go("/").code, 200)
        self.assertEqual(web.client.methods().count("PROPFIND"), before + 3)


class EventStreamTests(SynchronousTestCase):
    def open(self, web, count: int = 1) -> list[list[bytes]]:
        streams = []
        for _ in range(count):
            response = self.successResultOf(web.stub.get(ORIGIN + "/events"))
            self.assertEqual(
                response.headers.getRawHeaders("content-type"),
                ["text/event-stream; charset=utf-8"],
            )
            chunks: list[bytes] = []
            collect(response, chunks.append)
            streams.append(chunks)
        web.stub.flush()
        return streams

    def test_every_browser_gets_each_change_for_one_look_at_the_pots(self) -> None:
        web = make_web()
        streams = self.open(web, 20)
        self.assertEqual(len(web.front.feed), 20)
        self.assertEqual(len(web.client.sent), 1)
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": "Cream"})
        asked = len(web.client.sent)
        web.later(0.0)
        self.assertEqual(len(web.client.sent), asked + 2)
        for _ in range(5):
            web.later(1.0)
        self.assertEqual(len(web.client.sent), asked + 2)
        for chunks in streams:
            self.assertTrue(b"".join(chunks).startswith(b"retry: 3000\n\n"))
            states = [e["pots"][0]["state"] for e in events(chunks)]
            self.assertEqual(states, ["idle", "brewing"])
        last = events(streams[0])[-1]["pots"][0]
        self.assertEqual((last["summary"], last["timer_label"]), ("Coffee with Cream", "Ready in"))
        self.assertAlmostEqual(last["seconds_left"], 30.0, delta=0.1)
        web.front.feed.close()
        web.stub.flush()
        self.assertEqual(len(web.front.feed), 0)

    def test_one_idle_page_for_a_minute_costs_at_most_ten_requests(self) -> None:
        web = make_web()
        [chunks] = self.open(web)
        for _ in range(600):
            web.later(0.1)
        self.assertLessEqual(len(web.client.sent), 10)
        self.assertGreaterEqual(len(web.client.sent), 60 // HEARTBEAT)
        self.assertEqual(len(events(chunks)), 1)
        web.front.feed.close()
        web.stub.flush()

    def test_a_brew_with_milk_is_shown_within_a_second_of_each_change(self) -> None:
        web = make_web(milky_config())
        [chunks] = self.open(web)
        pot = web.client.server.pots[0]
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": ["Cream"]})
        changed: dict[str, float] = {}
        shown: dict[str, float] = {}
        for _ in range(300):
            web.later(0.1)
            now = web.clock.seconds()
            changed.setdefault(pot.state.value, now)
            for event in events(chunks):
                shown.setdefault(event["pots"][0]["state"], now)
        self.assertEqual(list(changed), ["brewing", "pouring", "ready"])
        for state in ("pouring", "ready"):
            self.assertLessEqual(shown[state] - changed[state], 1.0, state)
        web.front.feed.close()
        web.stub.flush()

    def test_a_new_browser_starts_with_the_state_after_the_latest_change(self) -> None:
        web = make_web()
        [first] = self.open(web)
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        [second] = self.open(web)
        self.assertEqual(events(second)[0]["pots"][0]["state"], "brewing")
        web.later(0.0)
        self.assertEqual([e["pots"][0]["state"] for e in events(first)], ["idle", "brewing"])
        web.front.feed.close()
        web.stub.flush()

    def test_unchanged_status_is_not_resent_but_a_heartbeat_is(self) -> None:
        web = make_web()
        [chunks] = self.open(web)
        web.later(1.0)
        self.assertEqual(len(events(chunks)), 1)
        self.assertNotIn(b": still here", b"".join(chunks))
        web.later(HEARTBEAT)
        self.assertEqual(len(events(chunks)), 1)
        self.assertIn(b": still here\n\n", b"".join(chunks))
        web.front.feed.close()
        web.stub.flush()

    def test_pot_server_away_and_back(self) -> None:
        web = make_web()
        [chunks] = self.open(web)
        web.client.down = unreachable()
        web.later(HEARTBEAT)
        web.client.down = None
        web.later(web.front.gateway.retry)
        seen = [(e["ok"], (e["problem"] or {}).get("status")) for e in events(chunks)]
        self.assertEqual(seen, [(True, None), (False, 503), (True, None)])
        web.front.feed.close()
        web.stub.flush()

    def test_the_loop_stops_when_nobody_watches(self) -> None:
        web = make_web()
        self.open(web, 2)
        web.front.feed.close()
        web.stub.flush()
        asked = len(web.client.sent)
        web.later(10 * HEARTBEAT)
        self.assertEqual(len(web.client.sent), asked)

    def test_a_browser_that_leaves_is_forgotten(self) -> None:
        web = make_web()
        staying, leaving = DummyRequest([b"events"]), DummyRequest([b"events"])
        ended = web.front.feed.stream(staying)
        web.front.feed.stream(leaving)
        leaving.processingFailed(Failure(ConnectionDone()))
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        web.later(0.0)
        self.assertEqual(len(web.front.feed), 1)
        self.assertIn(b'"state": "brewing"', b"".join(staying.written))
        self.assertNotIn(b'"state": "brewing"', b"".join(leaving.written))
        staying.processingFailed(Failure(ConnectionDone()))
        asked = len(web.client.sent)
        web.later(10 * HEARTBEAT)
        self.assertEqual(len(web.client.sent), asked)
        self.assertNoResult(ended)

    def test_streams_beyond_the_limit_are_refused(self) -> None:
        web = make_web()
        web.front.feed._limit = 1
        self.open(web)
        response = self.successResultOf(web.stub.get(ORIGIN + "/events"))
        self.assertEqual(response.code, 503)
        web.front.feed.close()
        web.stub.flush()


class ChangeRaceTests(SynchronousTestCase):
    def test_a_snapshot_begun_before_a_change_is_not_shown_after_it(self) -> None:
        client = PendingGets()
        pending = client.pending
        gateway = PotGateway(client, Clock())  # type: ignore[arg-type]
        before = gateway.snapshot()
        gateway.changed()
        after = gateway.snapshot()
        self.assertEqual(len(pending), 2)
        pending[1].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "ready"}'))
        pending[0].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "pouring"}'))
        self.assertEqual(self.successResultOf(before).pots[0].state, "pouring")
        self.assertEqual(self.successResultOf(after).pots[0].state, "ready")
        self.assertEqual(self.successResultOf(gateway.snapshot()).pots[0].state, "ready")
