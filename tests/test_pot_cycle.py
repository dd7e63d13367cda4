"""Tests for a pot's brew cycle, on pots specified here and a clock far from 0."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.pot import (
    Addition,
    Bean,
    Brew,
    CoffeeSupply,
    NotBrewing,
    NotPouring,
    Pot,
    PotBusy,
    PotKind,
    PotSpec,
    State,
    Variety,
)

T0 = 1_700_000_000.0
CREAM = Addition("Cream", "milk")
RUM = Addition("Rum", "alcohol")
GREEN = Variety("green", 120.0)
OOLONG = Variety("oolong", 45.5)
INSTANT = Variety("instant", 0.0)
COFFEE_POT = PotSpec("ducky", PotKind.COFFEE, 30.0, 10.0, (CREAM, RUM))
TEAPOT = PotSpec(
    "kettle", PotKind.TEAPOT, 180.0, 12.0, (CREAM,), (GREEN, OOLONG, INSTANT), (), CoffeeSupply.YES
)
ARABICA = Bean("Yirgacheffe", "floral", "Ethiopia", "arabica", 3, "light")
ROBUSTA = Bean("Kouillou", "earthy", "Congo", "robusta", 5, "dark")


def pot_on(spec: PotSpec = COFFEE_POT, **options: object) -> tuple[Pot, Clock, list[Brew]]:
    """A pot on a clock at L{T0}, with every change it reports."""
    clock = Clock()
    clock.advance(T0)
    pot = Pot(spec, 3, clock, **options)  # type: ignore[arg-type]
    changes: list[Brew] = []
    pot.subscribe(changes.append)
    return pot, clock, changes


def late_clock(clock: Clock, seconds: float) -> None:
    """Move the clock on without running what is due: a reactor running late."""
    clock.rightNow += seconds


class CoffeeBrewTests(SynchronousTestCase):
    def test_a_coffee_brew_says_what_it_is(self) -> None:
        pot, _, changes = pot_on(beans=(ARABICA, ROBUSTA), choose_bean=lambda beans: beans[1])
        brew = pot.start([RUM, CREAM])
        expected = Brew(
            id=brew.id,
            pot="ducky",
            beverage="coffee",
            variety=None,
            additions=("Rum", "Cream"),
            bean=ROBUSTA,
            started=T0,
            brew_end=T0 + 30,
            milk=True,
            pour_start=None,
            pour_stop=None,
            stopped=None,
            outcome="brewing",
            strength=1.0,
        )
        self.assertEqual(brew, expected)
        self.assertEqual((changes, pot.current, pot.state), ([brew], brew, State.BREWING))

    def test_each_brew_has_its_own_id(self) -> None:
        pot, clock, _ = pot_on()
        first = pot.start()
        clock.advance(30)
        second = pot.start()
        self.assertEqual((len(first.id), int(first.id, 16) >= 0), (32, True))
        self.assertNotEqual(first.id, second.id)

    def test_the_first_bean_by_default(self) -> None:
        pot, _, _ = pot_on(beans=[ARABICA, ROBUSTA])
        self.assertEqual(pot.start().bean, ARABICA)

    def test_no_bean_without_beans(self) -> None:
        pot, _, _ = pot_on()
        self.assertIsNone(pot.start().bean)

    def test_milk_only_for_a_milk_addition(self) -> None:
        pot, _, _ = pot_on()
        self.assertFalse(pot.start([RUM]).milk)
        self.assertEqual((CREAM.is_milk, RUM.is_milk), (True, False))

    def test_pot_identity(self) -> None:
        pot, _, _ = pot_on()
        self.assertEqual(
            (pot.name, pot.index, pot.spec, pot.state, pot.current),
            ("ducky", 3, COFFEE_POT, State.IDLE, None),
        )

    def test_every_listener_hears_every_change(self) -> None:
        pot, clock, first = pot_on()
        second: list[Brew] = []
        pot.subscribe(second.append)
        pot.start()
        clock.advance(30)
        self.assertEqual([b.outcome for b in first], ["brewing", "ready"])
        self.assertEqual(second, first)


class MilkTests(SynchronousTestCase):
    def test_outcome_when_milk_starts_pouring(self) -> None:
        pot, clock, changes = pot_on()
        pot.start([CREAM])
        clock.advance(30)
        pouring = changes[-1]
        self.assertEqual(
            (pot.state, pouring.outcome, pouring.pour_start, pouring.pour_stop),
            (State.POURING, "pouring", T0 + 30, None),
        )

    def test_seconds_left_while_pouring(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        clock.advance(33)
        self.assertEqual(pot.seconds_left(), 7)

    def test_busy_while_pouring_for_the_rest_of_the_pour(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        clock.advance(34)
        self.assertEqual(self.assertRaises(PotBusy, pot.start).retry_after, 6)

    def test_when_stops_the_milk_now(self) -> None:
        pot, clock, changes = pot_on()
        pot.start([CREAM])
        clock.advance(34.5)
        poured = pot.when()
        self.assertEqual(
            (poured.outcome, poured.pour_start, poured.pour_stop, pot.state),
            ("ready", T0 + 30, T0 + 34.5, State.READY),
        )
        self.assertEqual((changes[-1], clock.getDelayedCalls()), (poured, []))

    def test_none_left_once_the_milk_is_stopped_early(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        clock.advance(32)
        pot.when()
        self.assertEqual((pot.state, pot.seconds_left()), (State.READY, 0))

    def test_stop_while_pouring_stops_the_milk(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        clock.advance(32)
        stopped = pot.stop()
        self.assertEqual(
            (stopped.outcome, stopped.pour_stop, stopped.stopped, stopped.strength, pot.state),
            ("ready", T0 + 32, None, 1.0, State.READY),
        )
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_longest_pour_when_the_clock_jumps(self) -> None:
        pot, clock, changes = pot_on()
        pot.start([CREAM])
        clock.advance(1000)
        self.assertEqual(
            [(b.outcome, b.pour_start, b.pour_stop) for b in changes],
            [("brewing", None, None), ("pouring", T0 + 30, None), ("ready", T0 + 30, T0 + 40)],
        )

    def test_when_without_pouring(self) -> None:
        pot, clock, _ = pot_on()
        self.assertRaises(NotPouring, pot.when)
        pot.start([CREAM])
        self.assertRaises(NotPouring, pot.when)
        clock.advance(40)
        self.assertRaises(NotPouring, pot.when)


class SecondsLeftTests(SynchronousTestCase):
    def test_idle_and_ready_pots_have_none_left(self) -> None:
        pot, clock, _ = pot_on()
        self.assertEqual(pot.seconds_left(), 0)
        pot.start()
        clock.advance(30)
        self.assertEqual(pot.seconds_left(), 0)

    def test_counts_down_while_brewing(self) -> None:
        pot, clock, _ = pot_on()
        pot.start()
        clock.advance(0.25)
        self.assertEqual(pot.seconds_left(), 29.75)

    def test_never_below_zero_when_the_reactor_is_late(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        late_clock(clock, 31)
        self.assertEqual((pot.state, pot.seconds_left()), (State.BREWING, 0))
        clock.advance(0)
        late_clock(clock, 20)
        self.assertEqual((pot.state, pot.seconds_left()), (State.POURING, 0))


class StopTests(SynchronousTestCase):
    def test_strength_is_the_share_of_the_brew_time(self) -> None:
        pot, clock, changes = pot_on()
        pot.start()
        clock.advance(6)
        stopped = pot.stop()
        self.assertEqual(
            (stopped.outcome, stopped.stopped, stopped.strength, pot.state),
            ("stopped", T0 + 6, 0.2, State.READY),
        )
        self.assertEqual((changes[-1], clock.getDelayedCalls()), (stopped, []))

    def test_strength_is_rounded_to_three_places(self) -> None:
        pot, clock, _ = pot_on()
        pot.start()
        clock.advance(10)
        self.assertEqual(pot.stop().strength, 0.333)

    def test_strength_at_most_one_when_the_reactor_is_late(self) -> None:
        pot, clock, _ = pot_on()
        pot.start()
        late_clock(clock, 45)
        self.assertEqual(pot.stop().strength, 1.0)

    def test_strength_of_a_brew_shorter_than_a_second(self) -> None:
        pot, clock, _ = pot_on(TEAPOT)
        pot.start([], Variety("flash", 0.5))
        clock.advance(0.125)
        self.assertEqual(pot.stop().strength, 0.25)

    def test_full_strength_for_a_brew_of_no_time(self) -> None:
        pot, _, _ = pot_on(TEAPOT)
        pot.start([], INSTANT)
        self.assertEqual(pot.stop().strength, 1.0)

    def test_nothing_to_stop(self) -> None:
        pot, _, _ = pot_on()
        self.assertRaises(NotBrewing, pot.stop)


class TeaTests(SynchronousTestCase):
    def test_a_tea_brew_says_what_it_is(self) -> None:
        pot, _, _ = pot_on(TEAPOT, beans=[ARABICA])
        brew = pot.start([CREAM], OOLONG)
        self.assertEqual(
            (brew.pot, brew.beverage, brew.variety, brew.bean, brew.brew_end, brew.milk),
            ("kettle", "tea", "oolong", None, T0 + 45.5, True),
        )

    def test_still_brewing_until_the_steep_time(self) -> None:
        pot, clock, _ = pot_on(TEAPOT)
        pot.start([], OOLONG)
        clock.advance(45.4)
        self.assertEqual((pot.state, round(pot.seconds_left(), 3)), (State.BREWING, 0.1))
        clock.advance(0.1)
        self.assertEqual(pot.state, State.READY)

    def test_coffee_from_a_teapot_takes_the_pot_brew_time(self) -> None:
        pot, _, _ = pot_on(TEAPOT, beans=[ARABICA])
        brew = pot.start()
        self.assertEqual((brew.beverage, brew.brew_end, brew.bean), ("coffee", T0 + 180, ARABICA))

    def test_milk_in_tea_pours_for_the_pot_pour_time(self) -> None:
        pot, clock, _ = pot_on(TEAPOT)
        pot.start([CREAM], GREEN)
        clock.advance(125)
        self.assertEqual((pot.state, pot.seconds_left()), (State.POURING, 7))


class ResumeTests(SynchronousTestCase):
    def brew(self, *additions: Addition) -> Brew:
        pot, _, _ = pot_on()
        return pot.start(list(additions))

    def test_resume_while_milk_was_pouring(self) -> None:
        brew = self.brew(CREAM)
        pot, clock, changes = pot_on()
        clock.advance(33)
        resumed = pot.resume(brew)
        self.assertEqual(
            (pot.state, resumed.outcome, resumed.pour_start, resumed.pour_stop),
            (State.POURING, "pouring", T0 + 30, None),
        )
        self.assertEqual((pot.seconds_left(), changes, pot.current), (7, [resumed], resumed))
        clock.advance(6.9)
        self.assertEqual(pot.state, State.POURING)
        clock.advance(0.1)
        self.assertEqual((pot.state, changes[-1].pour_stop), (State.READY, T0 + 40))

    def test_resume_at_the_brew_end_starts_the_milk(self) -> None:
        brew = self.brew(CREAM)
        pot, clock, _ = pot_on()
        clock.advance(30)
        self.assertEqual(pot.resume(brew).outcome, "pouring")

    def test_resume_at_the_pour_end_is_ready(self) -> None:
        brew = self.brew(CREAM)
        pot, clock, _ = pot_on()
        clock.advance(40)
        done = pot.resume(brew)
        self.assertEqual(
            (done.outcome, done.pour_start, done.pour_stop), ("ready", T0 + 30, T0 + 40)
        )
        self.assertEqual((pot.state, clock.getDelayedCalls()), (State.READY, []))

    def test_resume_without_milk_after_its_end(self) -> None:
        brew = self.brew(RUM)
        pot, clock, _ = pot_on()
        clock.advance(30)
        done = pot.resume(brew)
        self.assertEqual((done.outcome, done.pour_start, done.pour_stop), ("ready", None, None))
        self.assertEqual(pot.state, State.READY)

    def test_resume_while_brewing_keeps_the_end(self) -> None:
        brew = self.brew()
        pot, clock, _ = pot_on()
        clock.advance(29)
        self.assertEqual(
            (pot.resume(brew), pot.state, pot.seconds_left()), (brew, State.BREWING, 1)
        )
        clock.advance(1)
        self.assertEqual(pot.state, State.READY)


class ShutdownTests(SynchronousTestCase):
    def test_shutdown_cancels_the_timer_and_keeps_the_brew(self) -> None:
        pot, clock, _ = pot_on()
        brew = pot.start()
        pot.shutdown()
        self.assertEqual(
            (clock.getDelayedCalls(), pot.state, pot.current), ([], State.BREWING, brew)
        )
        pot.shutdown()
        self.assertEqual(clock.getDelayedCalls(), [])


class ValueTests(SynchronousTestCase):
    def test_enum_values_as_configured_and_reported(self) -> None:
        self.assertEqual([k.value for k in PotKind], ["coffee", "teapot"])
        self.assertEqual([c.value for c in CoffeeSupply], ["never", "out", "yes"])
        self.assertEqual([s.value for s in State], ["idle", "brewing", "pouring", "ready"])

    def test_spec_defaults(self) -> None:
        spec = PotSpec("ducky", PotKind.COFFEE, 30.0, 10.0, ())
        self.assertEqual((spec.varieties, spec.forbidden, spec.coffee), ((), (), CoffeeSupply.YES))

    def test_values_are_frozen(self) -> None:
        pot, _, _ = pot_on()
        brew = pot.start()
        for value, name in (
            (brew, "outcome"),
            (CREAM, "kind"),
            (ARABICA, "name"),
            (GREEN, "name"),
            (COFFEE_POT, "name"),
        ):
            self.assertRaises(FrozenInstanceError, setattr, value, name, "x")

    def test_busy_carries_its_retry_time(self) -> None:
        busy = PotBusy(2.5)
        self.assertEqual((busy.retry_after, busy.args), (2.5, (2.5,)))


class ForbiddenAdditionTests(SynchronousTestCase):
    """RFC 7168 section 2.3.2: combinations a pot refuses (403), by beverage and addition."""

    HONEY = Addition("Honey", "sweetener")
    WHOLE_MILK = Addition("Whole_Milk", "milk")

    def spec(self, *rules: tuple[str, str]) -> PotSpec:
        return PotSpec("kettle", PotKind.TEAPOT, 180.0, 12.0, (), (GREEN,), rules)

    def test_a_kind_forbidden_in_one_variety(self) -> None:
        spec = self.spec(("green", "milk"))
        self.assertEqual(spec.forbidden_addition("green", [RUM, CREAM]), CREAM)
        self.assertIsNone(spec.forbidden_addition("oolong", [CREAM]))
        self.assertIsNone(spec.forbidden_addition("coffee", [CREAM]))

    def test_a_kind_forbidden_in_every_beverage(self) -> None:
        spec = self.spec(("*", "alcohol"))
        for beverage in ("green", "oolong", "coffee"):
            self.assertEqual(spec.forbidden_addition(beverage, [CREAM, RUM]), RUM)
        self.assertIsNone(spec.forbidden_addition("green", [CREAM, self.HONEY]))

    def test_every_addition_forbidden_in_one_variety(self) -> None:
        spec = self.spec(("green", "*"))
        self.assertEqual(spec.forbidden_addition("green", [self.HONEY, CREAM]), self.HONEY)
        self.assertIsNone(spec.forbidden_addition("oolong", [self.HONEY]))

    def test_names_compare_folded(self) -> None:
        spec = self.spec(("Earl_Grey", "whole milk"))
        self.assertEqual(spec.forbidden_addition("earl-grey", [self.WHOLE_MILK]), self.WHOLE_MILK)
        self.assertEqual(spec.forbidden_addition("EARL GREY", [self.WHOLE_MILK]), self.WHOLE_MILK)
        self.assertIsNone(spec.forbidden_addition("earl-grey", [CREAM]))

    def test_an_addition_named_that_is_not_asked_for(self) -> None:
        spec = self.spec(("green", "Rum"))
        self.assertIsNone(spec.forbidden_addition("green", [CREAM, self.HONEY]))
        self.assertEqual(spec.forbidden_addition("green", [CREAM, RUM]), RUM)

    def test_a_later_rule_applies_when_an_earlier_does_not(self) -> None:
        spec = self.spec(("oolong", "milk"), ("green", "sweetener"))
        self.assertEqual(spec.forbidden_addition("green", [CREAM, self.HONEY]), self.HONEY)

    def test_nothing_forbidden_without_rules(self) -> None:
        self.assertIsNone(self.spec().forbidden_addition("green", [CREAM, RUM]))


class BeanTests(SynchronousTestCase):
    def test_the_next_bean_is_known_before_brewing(self) -> None:
        chosen = iter([ROBUSTA, ARABICA, ROBUSTA])
        pot, clock, _ = pot_on(beans=(ARABICA, ROBUSTA), choose_bean=lambda beans: next(chosen))
        self.assertEqual(pot.bean, ROBUSTA)
        brew = pot.start()
        self.assertEqual((brew.bean, pot.bean), (ROBUSTA, ROBUSTA))
        clock.advance(30)
        pot.take_away()
        self.assertEqual(pot.bean, ARABICA)
        self.assertEqual(pot.start().bean, ARABICA)

    def test_tea_leaves_the_next_bean_alone(self) -> None:
        chosen = iter([ROBUSTA, ARABICA])
        pot, _, _ = pot_on(TEAPOT, beans=(ARABICA, ROBUSTA), choose_bean=lambda b: next(chosen))
        self.assertIsNone(pot.start([], GREEN).bean)
        self.assertEqual(pot.bean, ROBUSTA)

    def test_no_bean_without_beans(self) -> None:
        pot, _, _ = pot_on()
        self.assertIsNone(pot.bean)
        pot.start()
        self.assertIsNone(pot.bean)


class TakeAwayTests(SynchronousTestCase):
    def test_a_ready_brew_is_taken_away_unreported(self) -> None:
        pot, clock, changes = pot_on()
        pot.start()
        clock.advance(30)
        ready = changes[-1]
        self.assertEqual((pot.take_away(), pot.state, pot.current), (ready, State.IDLE, None))
        self.assertEqual((changes[-1], clock.getDelayedCalls()), (ready, []))

    def test_a_stopped_brew_is_taken_away(self) -> None:
        pot, clock, _ = pot_on()
        pot.start()
        clock.advance(3)
        stopped = pot.stop()
        self.assertEqual((pot.take_away(), pot.state), (stopped, State.IDLE))

    def test_nothing_to_take_away(self) -> None:
        pot, clock, _ = pot_on()
        self.assertRaises(NotBrewing, pot.take_away)
        pot.start([CREAM])
        self.assertRaises(NotBrewing, pot.take_away)
        clock.advance(31)
        self.assertRaises(NotBrewing, pot.take_away)
        self.assertEqual(pot.state, State.POURING)


class RestoreTests(SynchronousTestCase):
    """A change that could not be recorded is undone: the pot as it was, unreported."""

    def test_restore_a_brewing_pot_carries_on_to_its_end(self) -> None:
        pot, clock, changes = pot_on()
        brew = pot.start()
        clock.advance(10)
        pot.stop()
        pot.restore(State.BREWING, brew)
        self.assertEqual((pot.state, pot.current, pot.seconds_left()), (State.BREWING, brew, 20))
        self.assertEqual(len(changes), 2)
        clock.advance(19.5)
        self.assertEqual(pot.state, State.BREWING)
        clock.advance(0.5)
        self.assertEqual((pot.state, changes[-1].outcome), (State.READY, "ready"))

    def test_restore_a_pouring_pot_carries_on_to_its_pour_end(self) -> None:
        pot, clock, changes = pot_on()
        pot.start([CREAM])
        clock.advance(32)
        pouring = changes[-1]
        pot.when()
        pot.restore(State.POURING, pouring)
        self.assertEqual((pot.state, pot.seconds_left()), (State.POURING, 8))
        clock.advance(7.5)
        self.assertEqual(pot.state, State.POURING)
        clock.advance(0.5)
        self.assertEqual((pot.state, changes[-1].pour_stop), (State.READY, T0 + 40))

    def test_restore_past_its_end_finishes_at_once(self) -> None:
        pot, clock, changes = pot_on()
        brew = pot.start()
        clock.advance(3)
        pot.stop()
        late_clock(clock, 100)
        pot.restore(State.BREWING, brew)
        clock.advance(0)
        self.assertEqual((pot.state, changes[-1].outcome), (State.READY, "ready"))

    def test_restore_a_pour_past_its_end_finishes_at_once(self) -> None:
        pot, clock, changes = pot_on()
        pot.start([CREAM])
        clock.advance(31)
        pouring = changes[-1]
        pot.when()
        late_clock(clock, 100)
        pot.restore(State.POURING, pouring)
        clock.advance(0)
        self.assertEqual((pot.state, changes[-1].pour_stop), (State.READY, T0 + 40))

    def test_restore_a_ready_pot_with_milk_sets_no_timer(self) -> None:
        pot, clock, _ = pot_on()
        pot.start([CREAM])
        clock.advance(31)
        poured = pot.when()
        pot.restore(State.READY, poured)
        self.assertEqual((pot.state, clock.getDelayedCalls()), (State.READY, []))

    def test_restore_an_empty_pot(self) -> None:
        pot, clock, changes = pot_on()
        pot.start()
        pot.restore(State.IDLE, None)
        self.assertEqual((pot.state, pot.current, clock.getDelayedCalls()), (State.IDLE, None, []))
        self.assertEqual(len(changes), 1)

    def test_restore_a_ready_pot_sets_no_timer(self) -> None:
        pot, clock, changes = pot_on()
        pot.start()
        clock.advance(30)
        ready = changes[-1]
        pot.take_away()
        pot.restore(State.READY, ready)
        self.assertEqual(
            (pot.state, pot.current, clock.getDelayedCalls()), (State.READY, ready, [])
        )
