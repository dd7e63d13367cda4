# -*- test-case-name: tests.test_web_live -*-
"""
The front end's one way to the pots: discovery, shared status, actions.

Everything goes through a L{PotClient}, over a real connection to the pot
server.  There is no "list the pots" request, so the pots are discovered
with PROPFIND C{/pot-0}, C{/pot-1}, ... until a 404, and the catalogue is
kept for a minute.  The status of every pot (a GET each) is taken at most
once per C{interval}, however many browsers look at it: concurrent callers
share the request in flight, later ones the cached L{Snapshot}.

A pot server that cannot be used never raises from L{PotGateway.snapshot}:
the snapshot carries a L{Problem} (503 unreachable, 504 too slow, 502 a TLS
failure or an unreadable answer) and is cached like any other, so a dead
server is asked once per interval and the front end recovers by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, Generic, TypeVar

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.client import ClientError, PotClient, PotTimeout, PotTLSError, PotUnreachable
from htcpcp.message import Response

__all__ = [
    "PotAnswerError",
    "PotGateway",
    "PotInfo",
    "PotView",
    "Problem",
    "Snapshot",
    "UnknownPot",
    "problem_for",
]

POT_LIMIT: Final = 32
"""Pots discovered at most."""

T = TypeVar("T")
log = Logger()


class UnknownPot(Exception):
    """The front end knows no pot with that index."""


class PotAnswerError(Exception):
    """The pot server answered something the front end cannot use."""


@dataclass(frozen=True)
class PotInfo:
    """A pot's catalogue, from its PROPFIND."""

    index: int
    name: str
    kind: str
    brew_time: float
    pour_time: float
    additions: tuple[str, ...]
    varieties: tuple[tuple[str, float], ...] = ()

    @property
    def target(self) -> str:
        """The pot's origin-form target."""
        return f"/pot-{self.index}"

    @property
    def teapot(self) -> bool:
        return self.kind == "teapot"

    @classmethod
    def from_propfind(cls, index: int, body: Mapping[str, Any]) -> PotInfo:
        """Read a PROPFIND body; L{PotAnswerError} if it is not one."""
        try:
            pot = body["pot"]
            return cls(
                index=index,
                name=str(pot["name"]),
                kind=str(pot["kind"]),
                brew_time=float(pot["brew_time"]),
                pour_time=float(pot["pour_time"]),
                additions=tuple(str(a) for a in pot["additions"]),
                varieties=tuple((str(k), float(v)) for k, v in pot.get("varieties", {}).items()),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PotAnswerError(f"pot-{index} described itself oddly: {error!r}") from error


@dataclass(frozen=True)
class PotView:
    """A pot and its status (the body of its GET: C{{}} when empty)."""

    info: PotInfo
    status: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """idle, brewing, pouring or ready."""
        state = self.status.get("state")
        return state if state in ("brewing", "pouring", "ready") else "idle"

    @property
    def seconds_left(self) -> float:
        try:
            return max(0.0, float(self.status.get("seconds_left") or 0.0))
        except (TypeError, ValueError):
            return 0.0

    @property
    def outcome(self) -> str:
        return str(self.status.get("outcome") or "")

    def summary(self) -> str:
        """What is in the pot, in words: C{Coffee with Cream and Whisky}."""
        if not self.status:
            return "Ready for an order"
        variety = self.status.get("variety")
        drink = f"{variety} tea" if variety else str(self.status.get("beverage_type") or "coffee")
        additions = [str(a) for a in self.status.get("additions") or ()]
        drink = drink[:1].upper() + drink[1:]
        if not additions:
            return drink
        listed = ", ".join(additions[:-1]) + " and " + additions[-1] if len(additions) > 1 else ""
        return f"{drink} with {listed or additions[0]}"


@dataclass(frozen=True)
class Problem:
    """Why the pot server could not be used, as an HTTP status and words."""

    status: int
    title: str
    detail: str


@dataclass(frozen=True)
class Snapshot:
    """
    Every pot's status at C{taken} (the clock's seconds), or the problem.

    @ivar generation: how many changes the front end had made to the pots
        when the snapshot began (see L{PotGateway.changed}).
    """

    taken: float
    pots: tuple[PotView, ...] = ()
    problem: Problem | None = None
    generation: int = 0

    @cached_property
    def fingerprint(self) -> str:
        """
        What the snapshot says (not when): equal for snapshots that say the same.

        A string, made once, so that finding a page kept for it costs little.
        """
        statuses = [json.dumps(view.status, sort_keys=True) for view in self.pots]
        return repr((self.problem, [view.info for view in self.pots], statuses))


def problem_for(error: Exception, redact: Callable[[str], str] = str) -> Problem:
    """The L{Problem} a failed request to the pot server stands for."""
    detail = redact(str(error))
    if isinstance(error, PotTimeout):
        return Problem(504, "The pot server is not answering", detail)
    if isinstance(error, PotTLSError):
        return Problem(502, "The pot server's certificate was refused", detail)
    if isinstance(error, PotUnreachable):
        return Problem(503, "The pot server cannot be reached", detail)
    return Problem(502, "The pot server answered something unreadable", detail)


class _Shared(Generic[T]):
    """At most one call of C{produce} in flight; everyone waiting gets its result."""

    def __init__(self, produce: Callable[[], Deferred[T]]) -> None:
        self._produce = produce
        self._waiters: list[Deferred[T]] = []

    def __call__(self) -> Deferred[T]:
        waiter: Deferred[T] = Deferred()
        self._waiters.append(waiter)
        if len(self._waiters) == 1:
            self._produce().addBoth(self._deliver)
        return waiter

    def _deliver(self, result: T | Failure) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.called:
                continue
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)


def _json(response: Response, what: str) -> Any:
    try:
        return json.loads(response.body)
    except ValueError as error:
        raise PotAnswerError(f"{what} answered with something that is not JSON") from error


async def _all(requests: Sequence[Deferred[Response]]) -> list[Response]:
    """Wait for every request; raise the first one's error if any failed."""
    results = await DeferredList(list(requests), consumeErrors=True)
    for ok, value in results:
        if not ok:
            value.raiseException()
    return [value for _, value in results]


class PotGateway:
    """
    The pots of one pot server, as the front end sees them.

    @param client: the client every request goes through.
    @param clock: the clock the status's age is measured with.
    @param interval: seconds a status snapshot is reused.
    @param catalogue_ttl: seconds the discovered pots are trusted.
    @param redact: hides what people should not see in error messages.
    """

    def __init__(
        self,
        client: PotClient,
        clock: IReactorTime,
        *,
        interval: float = 1.0,
        catalogue_ttl: float = 60.0,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.client = client
        self.redact = redact
        self.interval = interval
        self._clock = clock
        self._catalogue_ttl = catalogue_ttl
        self._catalogue: tuple[float, tuple[PotInfo, ...]] | None = None
        self._last: Snapshot | None = None
        self._generation = 0
        self._discover = _Shared(lambda: Deferred.fromCoroutine(self._discovery()))
        self._take = self._new_take()

    def _new_take(self) -> _Shared[Snapshot]:
        return _Shared(lambda: Deferred.fromCoroutine(self._snapshot()))

    def now(self) -> float:
        return self._clock.seconds()

    @property
    def generation(self) -> int:
        """How many changes this front end has made to the pots."""
        return self._generation

    async def pots(self) -> tuple[PotInfo, ...]:
        """The pots of the server (cached); raises L{ClientError} or L{PotAnswerError}."""
        cached = self._catalogue
        if cached is not None and self.now() - cached[0] < self._catalogue_ttl:
            return cached[1]
        return await self._discover()

    async def pot(self, index: int) -> PotInfo:
        """The pot with C{index}; L{UnknownPot} if there is none."""
        for info in await self.pots():
            if info.index == index:
                return info
        raise UnknownPot(index)

    def snapshot(self) -> Deferred[Snapshot]:
        """Every pot's status, at most C{interval} old; never fails for the pot's sake."""
        recent = self.recent()
        return self._take() if recent is None else succeed(recent)

    def recent(self) -> Snapshot | None:
        """The last snapshot if it is less than C{interval} old, else C{None}."""
        last = self._last
        if last is not None and self.now() - last.taken < self.interval:
            return last
        return None

    def changed(self) -> None:
        """
        A pot was just changed: the next snapshot is taken afresh.

        A snapshot already being taken may predate the change: its callers
        still get it, but later ones wait for a new one, and it is not kept.
        """
        self._generation += 1
        self._last = None
        self._take = self._new_take()

    async def _discovery(self) -> tuple[PotInfo, ...]:
        found = []
        for index in range(POT_LIMIT):
            response = await self.client.propfind(f"/pot-{index}")
            if response.status == 404:
                break
            if response.status != 200:
                raise PotAnswerError(f"PROPFIND /pot-{index} answered {response.status}")
            found.append(PotInfo.from_propfind(index, _json(response, f"pot-{index}")))
        pots = tuple(found)
        self._catalogue = (self.now(), pots)
        return pots

    async def _snapshot(self) -> Snapshot:
        generation = self._generation
        try:
            pots = await self.pots()
            responses = await _all([self.client.get(info.target) for info in pots])
            views = []
            for info, response in zip(pots, responses, strict=True):
                if response.status != 200:
                    raise PotAnswerError(f"GET {info.target} answered {response.status}")
                views.append(PotView(info, _json(response, info.name)))
            snapshot = Snapshot(self.now(), tuple(views), generation=generation)
        except (ClientError, PotAnswerError) as error:
            self._catalogue = None
            problem = problem_for(error, self.redact)
            snapshot = Snapshot(self.now(), problem=problem, generation=generation)
            log.info("pot server problem: {detail}", detail=snapshot.problem.detail)  # type: ignore[union-attr]
        if generation == self._generation:
            self._last = snapshot
        return snapshot

    async def brew(self, info: PotInfo, drink: str, additions: Sequence[str]) -> Response:
        """Start a brew of C{drink} (C{coffee} or a tea variety) in the pot C{info}."""
        try:
            if drink == "coffee":
                return await self.client.brew(info.target, additions)
            return await self.client.brew(info.target, additions, variety=drink)
        finally:
            self.changed()

    async def stop(self, info: PotInfo) -> Response:
        """Stop the brew in the pot C{info}."""
        try:
            return await self.client.stop(info.target, tea=info.teapot)
        finally:
            self.changed()

    async def when(self, info: PotInfo) -> Response:
        """Say when: stop the milk pouring into the pot C{info}."""
        try:
            return await self.client.when(info.target)
        finally:
            self.changed()

    async def beans(self, info: PotInfo) -> tuple[PotInfo, Mapping[str, Any]]:
        """The pot C{info} and its PROPFIND body (the bean it brews)."""
        response = await self.client.propfind(info.target)
        if response.status != 200:
            raise PotAnswerError(f"PROPFIND {info.target} answered {response.status}")
        return info, _json(response, info.name)

    async def history(self, page: int, per_page: int, pot: str | None) -> Mapping[str, Any]:
        """One page of the brew history (the server's C{/log})."""
        response = await self.client.history("/log", page, per_page, pot=pot)
        if response.status != 200:
            raise PotAnswerError(f"the history answered {response.status}")
        return _json(response, "the history")  # type: ignore[no-any-return]

    async def send_raw(self, data: bytes) -> Response:
        """Send C{data} as it is on a fresh connection; the pot's answer."""
        return await self.client.send_raw(data)
