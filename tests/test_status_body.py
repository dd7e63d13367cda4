"""
Tests for L{status_body}: a brew's status written from pieces is, byte for
byte, what the standard library's JSON encoder makes of L{brew_status}
(compact separators, ASCII only), in every state a brew passes through.
"""

from __future__ import annotations

import json

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.pot import Addition, Bean, Brew, Pot, PotKind, PotSpec, Variety
from htcpcp.representations import brew_status, status_body

START = 1_700_000_000.0
BEAN = Bean("Kaffa \u2615", 'fruity, "bright"', "Ethiopia", "Arabica", 3, "light")
ADDITIONS = (Addition("Whole-milk", "milk"), Addition("Caf\u00e9-syrup", "syrup"))


def _expected(pot: Pot, brew: Brew | None = None) -> bytes:
    """The reference: the standard library's compact JSON of the status dict."""
    return json.dumps(brew_status(pot, brew), separators=(",", ":")).encode("ascii")


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
