"""Tests for pots as clock-driven state machines."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.config import BEANS, COFFEE_ADDITIONS, default_config
from htcpcp.pot import Brew, NotBrewing, NotPouring, Pot, PotBusy, State

CREAM = next(a for a in COFFEE_ADDITIONS if a.name == "Cream")
WHISKY = next(a for a in COFFEE_ADDITIONS if a.name == "Whisky")


def make_pot(index: int = 0) -> tuple[Pot, Clock, list[Brew]]:
    clock = Clock()
    pot = Pot(default_config().pots[index], index, clock, BEANS, lambda beans: beans[1])
    changes: list[Brew] = []
    pot.subscribe(changes.append)
    return pot, clock, changes


class CoffeePotTests(SynchronousTestCase):
    def test_brews_then_ready(self) -> None:
        pot, clock, changes = make_pot()
        brew = pot.start([WHISKY])
        self.assertEqual((pot.state, brew.bean), (State.BREWING, BEANS[1]))
        clock.advance(29)
        self.assertEqual((pot.state, pot.seconds_left()), (State.BREWING, 1))
        clock.advance(1)
        self.assertEqual(pot.state, State.READY)
        self.assertEqual([c.outcome for c in changes], ["brewing", "ready"])

    def test_milk_pours_until_when(self) -> None:
        pot, clock, _ = make_pot()
        pot.start([CREAM])
        clock.advance(30)
        self.assertEqual(pot.state, State.POURING)
        clock.advance(3)
        brew = pot.when()
        self.assertEqual((pot.state, brew.pour_stop - brew.pour_start), (State.READY, 3))
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_milk_stops_after_longest_pour(self) -> None:
        pot, clock, changes = make_pot()
        pot.start([CREAM])
        clock.advance(30 + 10)
        self.assertEqual(pot.state, State.READY)
        self.assertEqual(changes[-1].pour_stop, 40)

    def test_when_without_milk(self) -> None:
        pot, _, _ = make_pot()
        self.assertRaises(NotPouring, pot.when)
        pot.start([WHISKY])
        self.assertRaises(NotPouring, pot.when)

    def test_second_start_is_busy(self) -> None:
        pot, clock, _ = make_pot()
        pot.start()
        clock.advance(12)
        busy = self.assertRaises(PotBusy, pot.start)
        self.assertEqual(busy.retry_after, 18)

    def test_start_again_when_ready(self) -> None:
        pot, clock, _ = make_pot()
        first = pot.start()
        clock.advance(30)
        self.assertNotEqual(pot.start().id, first.id)

    def test_stop(self) -> None:
        pot, clock, _ = make_pot()
        pot.start()
        clock.advance(15)
        brew = pot.stop()
        self.assertEqual((brew.outcome, brew.strength, pot.state), ("stopped", 0.5, State.READY))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertRaises(NotBrewing, pot.stop)

    def test_resume_in_progress(self) -> None:
        pot, clock, _ = make_pot()
        brew = pot.start([CREAM])
        clock.advance(10)
        other, other_clock, _ = make_pot()
        other_clock.advance(10)
        resumed = other.resume(brew)
        self.assertEqual((resumed.outcome, other.seconds_left()), ("brewing", 20))
        other_clock.advance(20)
        self.assertEqual(other.state, State.POURING)

    def test_resume_after_it_would_have_finished(self) -> None:
        pot, _, _ = make_pot()
        brew = pot.start([CREAM])
        later, later_clock, _ = make_pot()
        later_clock.advance(1000)
        done = later.resume(brew)
        self.assertEqual((done.outcome, done.pour_start, done.pour_stop), ("ready", 30, 40))


class TeapotTests(SynchronousTestCase):
    def test_variety_steep_time(self) -> None:
        pot, clock, _ = make_pot(1)
        variety = pot.spec.varieties[1]
        brew = pot.start([], variety)
        self.assertEqual((brew.beverage, brew.variety, brew.bean), ("tea", "earl-grey", None))
        clock.advance(variety.steep_time)
        self.assertEqual(pot.state, State.READY)

    def test_stop_serves_lesser_strength(self) -> None:
        pot, clock, _ = make_pot(1)
        variety = pot.spec.varieties[0]
        pot.start([], variety)
        clock.advance(variety.steep_time / 4)
        self.assertEqual(pot.stop().strength, 0.25)
