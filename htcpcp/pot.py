"""
Pots as clock-driven state machines: coffee pots and RFC 7168 teapots.

No networking here.  A L{Pot} is driven by an injected L{IReactorTime}
(tests use L{twisted.internet.task.Clock}):

    idle --start--> brewing --brew time--> ready
                       |                    ^
                       |  (milk added)      | WHEN, or the longest pour
                       +-----------> pouring+

C{stop} ends a brew early (tea is then served at lesser strength, RFC 7168
section 2.1.2); a second C{start} while brewing or pouring is refused.
Every change is reported to the pot's listeners as a new L{Brew} value.
A finished brew stays in the pot until it is taken away (L{Pot.take_away}:
the lab's C{stop} on a ready pot), and the pot is empty again.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = [
    "Addition",
    "Bean",
    "Brew",
    "CoffeeSupply",
    "NotBrewing",
    "NotPouring",
    "Pot",
    "PotBusy",
    "PotKind",
    "PotSpec",
    "State",
    "Variety",
]


class PotKind(enum.Enum):
    """What a pot brews."""

    COFFEE = "coffee"
    TEAPOT = "teapot"


class CoffeeSupply(enum.Enum):
    """What a teapot does when asked for coffee (RFC 7168 section 2.3.3)."""

    NEVER = "never"
    """418 I'm a teapot: permanent."""
    OUT = "out"
    """503: a tea pot temporarily out of coffee."""
    YES = "yes"
    """The teapot also brews coffee (RFC 7168 section 4)."""


class State(enum.Enum):
    """Where a pot is in its cycle."""

    IDLE = "idle"
    BREWING = "brewing"
    POURING = "pouring"
    READY = "ready"


@dataclass(frozen=True, slots=True)
class Addition:
    """An addition a pot can put in a cup; C{kind} is milk, syrup, alcohol, ..."""

    name: str
    kind: str

    @property
    def is_milk(self) -> bool:
        return self.kind == "milk"


@dataclass(frozen=True, slots=True)
class Bean:
    """A coffee bean, as PROPFIND describes it."""

    name: str
    profile: str
    origin: str
    type: str
    strength: int
    roast: str


@dataclass(frozen=True, slots=True)
class Variety:
    """A tea variety a teapot offers, with its own steep time in seconds."""

    name: str
    steep_time: float


@dataclass(frozen=True, slots=True)
class PotSpec:
    """
    The configuration of one pot.

    @ivar forbidden: pairs of (variety name or C{*}, addition name or kind)
        that the pot refuses with 403 (RFC 7168 section 2.3.2).
    """

    name: str
    kind: PotKind
    brew_time: float
    pour_time: float
    additions: tuple[Addition, ...]
    varieties: tuple[Variety, ...] = ()
    forbidden: tuple[tuple[str, str], ...] = ()
    coffee: CoffeeSupply = CoffeeSupply.YES


@dataclass(frozen=True, slots=True)
class Brew:
    """
    One brew, from start to its outcome; times are POSIX seconds.

    @ivar outcome: C{brewing}, C{pouring}, C{ready}, C{stopped} or
        C{interrupted}.
    @ivar strength: for a stopped brew, the fraction of the full brew time
        it got (1.0 otherwise).
    """

    id: str
    pot: str
    beverage: str
    variety: str | None
    additions: tuple[str, ...]
    bean: Bean | None
    started: float
    brew_end: float
    milk: bool
    pour_start: float | None = None
    pour_stop: float | None = None
    stopped: float | None = None
    outcome: str = "brewing"
    strength: float = 1.0


class PotBusy(Exception):
    """The pot is brewing or pouring; retry after C{retry_after} seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class NotBrewing(Exception):
    """C{stop} was asked of a pot that is not brewing."""


class NotPouring(Exception):
    """WHEN was said while no milk was pouring."""


Listener = Callable[[Brew], object]


class Pot:
    """A pot of coffee or tea, driven by C{clock}."""

    def __init__(
        self,
        spec: PotSpec,
        index: int,
        clock: IReactorTime,
        beans: Sequence[Bean] = (),
        choose_bean: Callable[[Sequence[Bean]], Bean] | None = None,
    ) -> None:
        self.spec = spec
        self.index = index
        self._clock = clock
        self._beans = tuple(beans)
        self._choose_bean = choose_bean or (lambda beans: beans[0])
        self._listeners: list[Listener] = []
        self._timer: IDelayedCall | None = None
        self.state = State.IDLE
        self.current: Brew | None = None
        self._next_bean = self._choose_bean(self._beans) if self._beans else None

    @property
    def bean(self) -> Bean | None:
        """The bean of the coffee in the pot, else the one the next coffee will be made of."""
        brew = self.current
        if brew is not None and brew.bean is not None:
            return brew.bean
        return self._next_bean

    @property
    def name(self) -> str:
        return self.spec.name

    def subscribe(self, listener: Listener) -> None:
        """Call C{listener} with every new L{Brew} value of this pot."""
        self._listeners.append(listener)

    def seconds_left(self) -> float:
        """Seconds until the current brew is done, or the pour ends; else 0."""
        brew = self.current
        now = self._clock.seconds()
        if brew is None:
            return 0.0
        if self.state is State.BREWING:
            return max(0.0, brew.brew_end - now)
        if self.state is State.POURING and brew.pour_start is not None:
            return max(0.0, brew.pour_start + self.spec.pour_time - now)
        return 0.0

    def start(self, additions: Sequence[Addition] = (), variety: Variety | None = None) -> Brew:
        """
        Start brewing coffee, or C{variety} of tea.

        @raise PotBusy: while brewing or pouring.
        """
        if self.state in (State.BREWING, State.POURING):
            raise PotBusy(self.seconds_left())
        now = self._clock.seconds()
        duration = variety.steep_time if variety is not None else self.spec.brew_time
        brew = Brew(
            id=uuid.uuid4().hex,
            pot=self.name,
            beverage="tea" if variety is not None else "coffee",
            variety=variety.name if variety is not None else None,
            additions=tuple(a.name for a in additions),
            bean=self._next_bean if variety is None else None,
            started=now,
            brew_end=now + duration,
            milk=any(a.is_milk for a in additions),
        )
        if variety is None and self._beans:
            self._next_bean = self._choose_bean(self._beans)
        self._enter(State.BREWING, brew, duration, self._brewed)
        return brew

    def stop(self) -> Brew:
        """
        End the brew early; tea is served at lesser strength.

        A pot that is pouring milk stops pouring.

        @raise NotBrewing: when there is nothing to stop.
        """
        brew = self.current
        if brew is None or self.state not in (State.BREWING, State.POURING):
            raise NotBrewing()
        if self.state is State.POURING:
            return self.when()
        now = self._clock.seconds()
        total = brew.brew_end - brew.started
        strength = min(1.0, (now - brew.started) / total) if total > 0 else 1.0
        stopped = replace(brew, stopped=now, outcome="stopped", strength=round(strength, 3))
        self._enter(State.READY, stopped)
        return stopped

    def take_away(self) -> Brew:
        """
        Take a finished brew out of the pot, which is empty again.

        Nothing is reported: the brew's record is already complete.

        @raise NotBrewing: when the pot holds no finished brew.
        """
        brew = self.current
        if brew is None or self.state is not State.READY:
            raise NotBrewing()
        self.restore(State.IDLE, None)
        return brew

    def restore(self, state: State, brew: Brew | None) -> None:
        """
        Put the pot back as it was (a change that could not be recorded), unreported.

        A brew brewing or pouring carries on to its own times.
        """
        self.shutdown()
        self.state = state
        self.current = brew
        now = self._clock.seconds()
        if brew is None:
            return
        if state is State.BREWING:
            self._timer = self._clock.callLater(max(0.0, brew.brew_end - now), self._brewed)
        elif state is State.POURING and brew.pour_start is not None:
            pour_end = brew.pour_start + self.spec.pour_time
            self._timer = self._clock.callLater(max(0.0, pour_end - now), self._poured)

    def when(self) -> Brew:
        """
        Say when: stop the milk that is pouring.

        @raise NotPouring: when no milk is pouring.
        """
        brew = self.current
        if brew is None or self.state is not State.POURING:
            raise NotPouring()
        poured = replace(brew, pour_stop=self._clock.seconds(), outcome="ready")
        self._enter(State.READY, poured)
        return poured

    def resume(self, brew: Brew) -> Brew:
        """
        Take back a brew that was in progress when the server stopped.

        It continues with its original times: a brew whose time ran out while
        the server was down is done at its original end time, and milk that
        would have finished pouring is recorded as poured for the longest time.
        """
        now = self._clock.seconds()
        pour_time = self.spec.pour_time
        if now < brew.brew_end:
            self._enter(State.BREWING, brew, brew.brew_end - now, self._brewed)
        elif brew.milk and now < brew.brew_end + pour_time:
            pouring = replace(brew, pour_start=brew.brew_end, outcome="pouring")
            self._enter(State.POURING, pouring, brew.brew_end + pour_time - now, self._poured)
        else:
            pour_stop = brew.brew_end + pour_time if brew.milk else None
            pour_start = brew.brew_end if brew.milk else None
            done = replace(brew, pour_start=pour_start, pour_stop=pour_stop, outcome="ready")
            self._enter(State.READY, done)
        assert self.current is not None
        return self.current

    def _brewed(self) -> None:
        brew = self.current
        assert brew is not None
        if brew.milk:
            pouring = replace(brew, pour_start=brew.brew_end, outcome="pouring")
            pour_end = brew.brew_end + self.spec.pour_time
            self._enter(State.POURING, pouring, pour_end - self._clock.seconds(), self._poured)
        else:
            self._enter(State.READY, replace(brew, outcome="ready"))

    def _poured(self) -> None:
        brew = self.current
        assert brew is not None
        assert brew.pour_start is not None
        pour_stop = min(self._clock.seconds(), brew.pour_start + self.spec.pour_time)
        self._enter(State.READY, replace(brew, pour_stop=pour_stop, outcome="ready"))

    def _enter(
        self,
        state: State,
        brew: Brew,
        delay: float | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self.state = state
        self.current = brew
        if then is not None and delay is not None:
            self._timer = self._clock.callLater(delay, then)
        for listener in self._listeners:
            listener(brew)

    def shutdown(self) -> None:
        """Cancel pending timers (the brew stays recorded as in progress)."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
