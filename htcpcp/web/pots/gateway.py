# -*- test-case-name: tests.test_web_live -*-
"""
The front end's one way to the pots: discovery, shared status, actions.

Everything goes through a L{PotClient}, over a real connection to the pot
server, and the front end asks as often as needed and no more, for its
traffic is what students capture.  One C{GET /pots} lists every pot with
its state; only the pots that are not idle are then asked for their status
(a GET each).  A server without that listing (another HTCPCP server: it
answers 404) is explored with PROPFIND C{/pot-0}, C{/pot-1}, ... until a
404, its catalogue kept for C{catalogue_ttl}, and every pot asked.

A L{Snapshot} is reused by everyone (pages, the JSON API, the live streams)
until it is L{Snapshot.due}: when a brewing or pouring pot says its state
will change (its C{seconds_left}), else after a C{heartbeat}, and at once
after the front end changes a pot (L{PotGateway.changed}).  Concurrent
callers share the requests in flight.

A pot server that cannot be used never raises from L{PotGateway.snapshot}:
the snapshot carries a L{Problem} (503 unreachable, 504 too slow, 502 a TLS
failure or an unreadable answer, in words) and the pots last seen, as
unknown; it is due again after C{retry}, so the front end recovers by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Generic, TypeVar

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.client import ClientError, PotClient, PotTimeout, PotTLSError, PotUnreachable
from htcpcp.message import Response
from htcpcp.web.pots.model import (
    ACTIVE_STATES,
    PotAnswerError,
    PotInfo,
    PotView,
    Problem,
    Snapshot,
    read_json,
)

__all__ = ["POT_LIMIT", "PotGateway", "UnknownPot", "problem_for"]

POT_LIMIT: Final = 100
"""Pots shown at most (and probed for, on a server without a listing)."""
LISTING: Final = "/pots"
NO_LISTING: Final = frozenset({400, 404, 405, 501})
"""What a server without C{/pots} answers it."""
SETTLE: Final = 0.1
"""Seconds after a pot's announced change before it is asked again."""
MIN_GAP: Final = 0.25
"""The shortest wait between two snapshots, whatever a pot announces."""

T = TypeVar("T")
log = Logger()


class UnknownPot(Exception):
    """The front end knows no pot with that index."""


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


def _expect_200(response: Response, what: str) -> None:
    if response.status != 200:
        said = response.body.decode("utf-8", "replace").strip()[:80]
        words = f": {said!r}" if said else ""
        raise PotAnswerError(f"{what} answered {response.status} {response.reason}{words}")


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


async def _all(requests: Sequence[Deferred[Response]]) -> list[Response]:
    """Wait for every request; raise the first one's error if any failed."""
    results = await DeferredList(list(requests), consumeErrors=True)
    for _, value in results:
        if isinstance(value, Failure):
            value.raiseException()
    return [value for _, value in results]


def _listed(body: object) -> list[tuple[PotInfo, str]]:
    """The pots of a C{/pots} body, each with its state."""
    entries = body.get("pots") if isinstance(body, Mapping) else None
    if not isinstance(entries, list):
        raise PotAnswerError('GET /pots answered without the "pots" list this front end reads')
    found = []
    for position, entry in enumerate(entries[:POT_LIMIT]):
        index = entry.get("index", position) if isinstance(entry, Mapping) else position
        if not isinstance(index, int) or not 0 <= index < POT_LIMIT:
            raise PotAnswerError(f"GET /pots lists a pot numbered {str(index)[:20]!r}")
        info = PotInfo.read(index, entry, f"GET /pots (its pot {position})")
        found.append((info, str(entry.get("state", "")) if isinstance(entry, Mapping) else ""))
    return found


class PotGateway:
    """
    The pots of one pot server, as the front end sees them.

    @param client: the client every request goes through.
    @param clock: the clock the status's age is measured with.
    @param heartbeat: the longest a snapshot is reused while no pot is changing.
    @param retry: seconds between two tries while the pot server cannot be used.
    @param catalogue_ttl: seconds the discovered pots are trusted (and a
        server's lack of C{/pots} remembered).
    @param redact: hides what people should not see in error messages.
    """

    def __init__(
        self,
        client: PotClient,
        clock: IReactorTime,
        *,
        heartbeat: float = 15.0,
        retry: float = 5.0,
        catalogue_ttl: float = 60.0,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.client = client
        self.redact = redact
        self.heartbeat = heartbeat
        self.retry = retry
        self._clock = clock
        self._catalogue_ttl = catalogue_ttl
        self._catalogue: tuple[float, tuple[PotInfo, ...]] | None = None
        self._seen: tuple[PotInfo, ...] = ()
        self._no_listing_until = float("-inf")
        self._since: float | None = None
        self._last: Snapshot | None = None
        self._generation = 0
        self._listeners: list[Callable[[], object]] = []
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

    def on_change(self, listener: Callable[[], object]) -> None:
        """Call C{listener} whenever the front end has changed a pot."""
        self._listeners.append(listener)

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
        """Every pot's status, taken again only once it is due; never fails for the pot's sake."""
        recent = self.recent()
        return self._take() if recent is None else succeed(recent)

    def recent(self) -> Snapshot | None:
        """The last snapshot until it is due, else C{None}."""
        last = self._last
        if last is not None and self.now() < last.due:
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
        for listener in list(self._listeners):
            listener()

    def _remember(self, pots: tuple[PotInfo, ...]) -> tuple[PotInfo, ...]:
        self._catalogue = (self.now(), pots)
        self._seen = pots
        return pots

    async def _listing(self) -> list[tuple[PotInfo, str]] | None:
        """Every pot and its state from C{GET /pots}; C{None} if the server has no listing."""
        if self.now() < self._no_listing_until:
            return None
        response = await self.client.get(LISTING)
        if response.status in NO_LISTING:
            self._no_listing_until = self.now() + self._catalogue_ttl
            return None
        _expect_200(response, f"GET {LISTING}")
        listed = _listed(read_json(response.body, f"GET {LISTING}"))
        self._remember(tuple(info for info, _ in listed))
        return listed

    async def _discovery(self) -> tuple[PotInfo, ...]:
        listed = await self._listing()
        if listed is not None:
            return tuple(info for info, _ in listed)
        found = []
        for index in range(POT_LIMIT):
            response = await self.client.propfind(f"/pot-{index}")
            if response.status == 404:
                break
            _expect_200(response, f"PROPFIND /pot-{index}")
            body = read_json(response.body, f"PROPFIND /pot-{index}")
            found.append(PotInfo.from_propfind(index, body))
        return self._remember(tuple(found))

    def _due(self, taken: float, views: Sequence[PotView]) -> float:
        waits = [view.seconds_left + SETTLE for view in views if view.state in ACTIVE_STATES]
        return taken + max(MIN_GAP, min([self.heartbeat, *waits]))

    async def _statuses(self) -> tuple[PotView, ...]:
        listed = await self._listing()
        if listed is None:
            asked = list(await self.pots())
            pots = tuple(asked)
        else:
            pots = tuple(info for info, _ in listed)
            asked = [info for info, state in listed if state != "idle"]
        responses = await _all([self.client.get(info.target) for info in asked])
        statuses: dict[int, Any] = {}
        for info, response in zip(asked, responses, strict=True):
            _expect_200(response, f"GET {info.target}")
            status = read_json(response.body, f"GET {info.target}")
            if not isinstance(status, Mapping):
                raise PotAnswerError(f"GET {info.target} answered JSON that is not an object")
            statuses[info.index] = status
        return tuple(PotView(info, statuses.get(info.index, {})) for info in pots)

    async def _snapshot(self) -> Snapshot:
        generation = self._generation
        try:
            views = await self._statuses()
            now = self.now()
            self._since = None
            snapshot = Snapshot(now, views, generation=generation, due=self._due(now, views))
        except (ClientError, PotAnswerError) as error:
            now = self.now()
            self._catalogue = None
            self._no_listing_until = float("-inf")
            self._since = now if self._since is None else self._since
            problem = problem_for(error, self.redact)
            problem = Problem(problem.status, problem.title, problem.detail, self._since)
            unknown = tuple(PotView(info, known=False) for info in self._seen)
            snapshot = Snapshot(now, unknown, problem, generation, due=now + self.retry)
            log.info("pot server problem: {detail}", detail=problem.detail)
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
        _expect_200(response, f"PROPFIND {info.target}")
        body = read_json(response.body, f"PROPFIND {info.target}")
        if not isinstance(body, Mapping):
            raise PotAnswerError(f"PROPFIND {info.target} answered JSON that is not an object")
        return info, body

    async def history(self, page: int, per_page: int, pot: str | None) -> Mapping[str, Any]:
        """One page of the brew history (the server's C{/log})."""
        response = await self.client.history("/log", page, per_page, pot=pot)
        _expect_200(response, "GET /log (the history)")
        history = read_json(response.body, "GET /log (the history)")
        if not isinstance(history, Mapping):
            raise PotAnswerError("GET /log (the history) answered JSON that is not an object")
        return history

    async def send_raw(self, data: bytes) -> Response:
        """Send C{data} as it is on a fresh connection; the pot's answer."""
        return await self.client.send_raw(data)
