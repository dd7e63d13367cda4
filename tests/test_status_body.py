"""
Tests for L{status_body}: a brew's status written from pieces is, byte for
byte, what the standard library's JSON encoder makes of the status written
out here as a dict (L{_reference_status}: the lab's keys and ours, its
times formatted with C{time.strftime}), compact and ASCII only, in every
state a brew passes through.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.pot import Addition, Bean, Brew, Pot, PotKind, PotSpec, Variety
from htcpcp.representations import status_body

START = 1_700_000_000.0
BEAN = Bean("Kaffa \u2615", 'fruity, "bright"', "Ethiopia", "Arabica", 3, "light")
ADDITIONS = (Addition("Whole-milk", "milk"), Addition("Caf\u00e9-syrup", "syrup"))


def _lab(seconds: float | None) -> str:
    """The lab's time: local, without a zone, to the second (docs/protocol.md)."""
    if seconds is None:
        return ""
    return time.strftime("%a, %d %b %Y %H:%M:%S", time.localtime(math.floor(seconds)))


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.floor(seconds)))


def _reference_status(pot: Pot, brew: Brew | None = None) -> dict[str, Any]:
    """The status of C{brew} (or the pot's current brew), key by key."""
    brew = brew or pot.current
    if brew is None:
        return {}
    current = brew is pot.current
    return {
        "date": _lab(brew.started),
        "beverage_type": "Coffee" if brew.beverage == "coffee" else "Tea",
        "additions": list(brew.additions),
        "brew_time_end": _lab(brew.brew_end),
        "pour_milk_start": _lab(brew.brew_end) if brew.milk else "",
        "pour_milk_stop": brew.pour_stop is not None,
        "coffee_bean": asdict(brew.bean) if brew.bean else {},
        "id": brew.id,
        "pot": pot.name,
        "pot_index": pot.index,
        "state": pot.state.value if current else brew.outcome,
        "outcome": brew.outcome,
        "variety": brew.variety,
        "milk": brew.milk,
        "strength": brew.strength,
        "seconds_left": round(pot.seconds_left(), 3) if current else 0,
        "started_at": _iso(brew.started),
        "brew_end_at": _iso(brew.brew_end),
        "pour_start_at": _iso(brew.pour_start),
        "pour_stop_at": _iso(brew.pour_stop),
        "stopped_at": _iso(brew.stopped),
    }


def _expected(pot: Pot, brew: Brew | None = None) -> bytes:
    """The reference: the standard library's compact JSON of the status dict."""
    return json.dumps(_reference_status(pot, brew), separators=(",", ":")).encode("ascii")


def _coffee_pot(clock: Clock) -> Pot:
    spec = PotSpec("pot \u00e9", PotKind.COFFEE, 30.0, 10.0, ADDITIONS)
    return Pot(spec, 3, clock, beans=(BEAN,))


class StatusBodyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)

    def assertSameBody(self, pot: Pot, brew: Brew | None = None) -> None:
        self.assertEqual(status_body(pot, brew), _expected(pot, brew))

    def test_empty_pot(self) -> None:
        pot = _coffee_pot(self.clock)
        self.assertEqual(status_body(pot), b"{}")

    def test_coffee_through_every_state(self) -> None:
        """Brewing, stopped early, ready, pouring milk and poured, and an old brew."""
        pot = _coffee_pot(self.clock)
        started = pot.start(ADDITIONS)
        self.clock.advance(7.123456)
        self.assertSameBody(pot)
        self.assertSameBody(pot, started)
        stopped = pot.stop()
        self.assertSameBody(pot, stopped)
        self.assertSameBody(pot, started)
        pot.take_away()
        self.assertSameBody(pot)
        self.clock.advance(3.5)
        self.assertSameBody(pot)
        self.clock.advance(20.0)
        self.assertSameBody(pot)

    def test_brewed_to_the_end(self) -> None:
        pot = _coffee_pot(self.clock)
        pot.start()
        self.clock.advance(30.0)
        self.assertSameBody(pot)

    def test_tea_variety(self) -> None:
        spec = PotSpec(
            "kettle", PotKind.TEAPOT, 30.0, 10.0, (), (Variety("Earl \u201cGrey\u201d", 9.5),)
        )
        pot = Pot(spec, 0, self.clock)
        pot.start((), spec.varieties[0])
        self.clock.advance(0.25)
        self.assertSameBody(pot)
        pot.stop()
        self.assertSameBody(pot)
