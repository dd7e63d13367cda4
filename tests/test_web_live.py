"""
Live status: one look at the pots per interval however many browsers
watch, server-sent events, and recovery when the pot server returns.
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
from htcpcp.web.gateway import PotGateway

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
        self.pending.append(Deferred())
        return self.pending[-1]


def events(chunks: list[bytes]) -> list[dict]:
    """The data events in what a stream delivered so far."""
    text = b"".join(chunks).decode()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


class SharedStatusTests(SynchronousTestCase):
    def test_many_page_views_cost_one_get_per_pot_per_interval(self) -> None:
        web = make_web()
        for _ in range(10):
            self.assertEqual(web.go("/").code, 200)
            self.assertEqual(web.go("/api/pots").code, 200)
        self.assertEqual(web.client.methods().count("GET"), 2)
        self.assertEqual(web.client.methods().count("PROPFIND"), 3)
        web.later(1.0)
        for _ in range(10):
            web.go("/")
        self.assertEqual(web.client.methods().count("GET"), 4)
        self.assertEqual(web.client.methods().count("PROPFIND"), 3)

    def test_recent_is_the_last_snapshot_while_it_is_fresh(self) -> None:
        web = make_web(interval=1.0)
        gateway = web.front.gateway
        self.assertIsNone(gateway.recent())
        taken = self.successResultOf(gateway.snapshot())
        self.assertIs(gateway.recent(), taken)
        web.later(0.9)
        self.assertIs(gateway.recent(), taken)
        web.later(0.1)
        self.assertIsNone(gateway.recent())

    def test_a_change_is_seen_at_once(self) -> None:
        web = make_web()
        web.go("/")
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        self.assertIn('data-state="brewing"', web.go("/").page)

    def test_concurrent_callers_share_the_requests_in_flight(self) -> None:
        client = PendingGets()
        answers = client.pending
        gateway = PotGateway(client, Clock(), interval=1.0)  # type: ignore[arg-type]
        waiting = [gateway.snapshot() for _ in range(5)]
        self.assertEqual(len(answers), 1)
        answers[0].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "brewing"}'))
        snapshots = [self.successResultOf(each) for each in waiting]
        self.assertEqual({id(s) for s in snapshots}, {id(snapshots[0])})
        self.assertEqual(snapshots[0].pots[0].state, "brewing")

    def test_the_catalogue_is_rediscovered_after_a_problem(self) -> None:
        web = make_web()
        web.go("/")
        web.client.down = unreachable()
        web.later(1.0)
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

    def test_every_browser_gets_each_change_for_one_look_per_interval(self) -> None:
        web = make_web()
        streams = self.open(web, 20)
        self.assertEqual(len(web.front.feed), 20)
        self.assertEqual(web.client.methods().count("GET"), 2)
        web.post("/brew", {"pot": "0", "drink": "coffee", "additions": "Cream"})
        gets = web.client.methods().count("GET")
        for _ in range(5):
            web.later(1.0)
        self.assertEqual(web.client.methods().count("GET"), gets + 2 * 5)
        for chunks in streams:
            self.assertTrue(b"".join(chunks).startswith(b"retry: 3000\n\n"))
            states = [e["pots"][0]["state"] for e in events(chunks)]
            self.assertEqual(states[0], "idle")
            self.assertIn("brewing", states)
        last = events(streams[0])[-1]["pots"][0]
        self.assertEqual((last["summary"], last["timer_label"]), ("Coffee with Cream", "Ready in"))
        self.assertAlmostEqual(last["seconds_left"], 25.0, delta=1.0)
        web.front.feed.close()
        web.stub.flush()
        self.assertEqual(len(web.front.feed), 0)

    def test_a_new_browser_starts_with_the_state_after_the_latest_change(self) -> None:
        web = make_web()
        [first] = self.open(web)
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        [second] = self.open(web)
        self.assertEqual(events(second)[0]["pots"][0]["state"], "brewing")
        self.assertEqual([e["pots"][0]["state"] for e in events(first)], ["idle"])
        web.later(1.0)
        self.assertEqual([e["pots"][0]["state"] for e in events(first)], ["idle", "brewing"])
        web.front.feed.close()
        web.stub.flush()

    def test_unchanged_status_is_not_resent_but_a_heartbeat_is(self) -> None:
        web = make_web()
        [chunks] = self.open(web)
        web.later(1.0)
        self.assertEqual(len(events(chunks)), 1)
        for _ in range(15):
            web.later(1.0)
        self.assertEqual(len(events(chunks)), 1)
        self.assertIn(b": still here\n\n", b"".join(chunks))
        web.front.feed.close()
        web.stub.flush()

    def test_pot_server_away_and_back(self) -> None:
        web = make_web()
        [chunks] = self.open(web)
        web.client.down = unreachable()
        web.later(1.0)
        web.client.down = None
        web.later(1.0)
        seen = [(e["ok"], (e["problem"] or {}).get("status")) for e in events(chunks)]
        self.assertEqual(seen, [(True, None), (False, 503), (True, None)])
        web.front.feed.close()
        web.stub.flush()

    def test_the_loop_stops_when_nobody_watches(self) -> None:
        web = make_web()
        self.open(web, 2)
        web.front.feed.close()
        web.stub.flush()
        gets = web.client.methods().count("GET")
        web.later(5.0)
        self.assertEqual(web.client.methods().count("GET"), gets)
        loops = [c for c in web.clock.getDelayedCalls() if "LoopingCall" in repr(c)]
        self.assertEqual(loops, [])

    def test_a_browser_that_leaves_is_forgotten(self) -> None:
        web = make_web()
        staying, leaving = DummyRequest([b"events"]), DummyRequest([b"events"])
        ended = web.front.feed.stream(staying)
        web.front.feed.stream(leaving)
        leaving.processingFailed(Failure(ConnectionDone()))
        web.post("/brew", {"pot": "0", "drink": "coffee"})
        web.later(1.0)
        self.assertEqual(len(web.front.feed), 1)
        self.assertIn(b'"state": "brewing"', b"".join(staying.written))
        self.assertNotIn(b'"state": "brewing"', b"".join(leaving.written))
        staying.processingFailed(Failure(ConnectionDone()))
        gets = web.client.methods().count("GET")
        web.later(3.0)
        self.assertEqual(web.client.methods().count("GET"), gets)
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
        gateway = PotGateway(client, Clock(), interval=1.0)  # type: ignore[arg-type]
        before = gateway.snapshot()
        gateway.changed()
        after = gateway.snapshot()
        self.assertEqual(len(pending), 2)
        pending[1].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "ready"}'))
        pending[0].callback(Response("HTCPCP/1.1", 200, "OK", {}, b'{"state": "pouring"}'))
        self.assertEqual(self.successResultOf(before).pots[0].state, "pouring")
        self.assertEqual(self.successResultOf(after).pots[0].state, "ready")
        self.assertEqual(self.successResultOf(gateway.snapshot()).pots[0].state, "ready")
