"""
What the pot server answers: one L{Request} in, one L{Reply} out.

The L{Dispatcher} resolves the target to a pot (or the history log), checks
method, media type, body and additions, drives the pot, and waits for the
brew history to be written before a state change is acknowledged.  It knows
nothing about connections; L{htcpcp.protocol} moves the bytes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.additions import AdditionsError, addition_key, parse_accept_additions
from htcpcp.cache import BoundedCache
from htcpcp.message import Request
from htcpcp.pot import (
    Addition,
    Brew,
    CoffeeSupply,
    NotBrewing,
    NotPouring,
    Pot,
    PotBusy,
    PotKind,
    State,
    Variety,
)
from htcpcp.storage import History
from htcpcp.urls import Target, TargetError, parse_target, split_query

if TYPE_CHECKING:
    from htcpcp.history_resource import LogResource

__all__ = ["METHODS", "SAFE", "Dispatcher", "Reply", "brew_status"]

METHODS: Final = ("BREW", "POST", "GET", "HEAD", "PROPFIND", "WHEN", "OPTIONS")
SAFE: Final[Mapping[str, str]] = {
    "GET": "yes",
    "HEAD": "yes",
    "PROPFIND": "yes",
    "OPTIONS": "yes",
    "BREW": "no",
    "POST": "no",
    "WHEN": "no",
}
"""The RFC 2324 Safe header value for each method."""
POT_METHODS: Final = ", ".join(METHODS)
COFFEE_TYPES: Final = frozenset({"message/coffeepot", "application/coffee-pot-command"})
TEA_TYPE: Final = "message/teapot"
LAB_TIME: Final = "%a, %d %b %Y %H:%M:%S"
JSON: Final = "application/json"
TEXT: Final = "text/plain; charset=utf-8"


class Reply(NamedTuple):
    """A response before framing: the protocol adds Date, Server, lengths."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def _text(status: int, message: str, *headers: tuple[str, str]) -> Reply:
    return Reply(status, (message + "\n").encode("utf-8"), TEXT, headers)


def _json(value: object, status: int = 200, *headers: tuple[str, str]) -> Reply:
    return Reply(status, json.dumps(value).encode("utf-8"), JSON, headers)


def _lab_time(seconds: float | None) -> str:
    return "" if seconds is None else time.strftime(LAB_TIME, time.localtime(seconds))


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def brew_status(pot: Pot, brew: Brew | None = None) -> dict[str, Any]:
    """
    A pot's GET body: C{{}} when empty, else the lab's keys and more.

    The lab's web client reads C{date}, C{beverage_type}, C{additions},
    C{brew_time_end}, C{pour_milk_start}, C{pour_milk_stop} and C{coffee_bean}
    with times in local time; the ISO 8601 UTC times and the rest are ours.
    """
    brew = brew or pot.current
    if brew is None:
        return {}
    status = dict(_fixed_status(brew, pot.name, pot.index))
    if brew is pot.current:
        status["state"] = pot.state.value
        status["seconds_left"] = round(pot.seconds_left(), 3)
    return status


@lru_cache(maxsize=64)
def _fixed_status(brew: Brew, pot_name: str, pot_index: int) -> dict[str, Any]:
    """The parts of a brew's status that do not change while it stays the same."""
    return {
        "date": _lab_time(brew.started),
        "beverage_type": brew.beverage if brew.variety is None else f"tea ({brew.variety})",
        "additions": list(brew.additions),
        "brew_time_end": _lab_time(brew.brew_end),
        "pour_milk_start": _lab_time(brew.pour_start) if brew.milk else "",
        "pour_milk_stop": _lab_time(brew.pour_stop) if brew.milk else "",
        "coffee_bean": asdict(brew.bean) if brew.bean else {},
        "id": brew.id,
        "pot": pot_name,
        "pot_index": pot_index,
        "state": brew.outcome,
        "outcome": brew.outcome,
        "variety": brew.variety,
        "milk": brew.milk,
        "strength": brew.strength,
        "seconds_left": 0,
        "started_at": _iso(brew.started),
        "brew_end_at": _iso(brew.brew_end),
        "pour_start_at": _iso(brew.pour_start),
        "pour_stop_at": _iso(brew.pour_stop),
        "stopped_at": _iso(brew.stopped),
    }


@dataclass(frozen=True)
class _Resolved:
    pot: Pot | None
    variety: str | None
    target: Target


class _Refusal(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class Dispatcher:
    """
    Answers requests for a set of pots.

    @param names: the host names this server answers to.
    @param history: where brews are written; C{None} keeps no history.
    """

    log = Logger()

    def __init__(
        self,
        pots: Sequence[Pot],
        names: frozenset[str],
        clock: IReactorTime,
        history: History | None = None,
    ) -> None:
        self.pots = tuple(pots)
        self._names = names
        self._clock = clock
        self._history = history
        from htcpcp.history_resource import LogResource  # it answers with this module's Reply

        self._log: LogResource = LogResource(history)
        self._by_name = {p.name.lower(): p for p in self.pots}
        self._catalogues = {
            p.name: {addition_key(a.name): a for a in p.spec.additions} for p in self.pots
        }
        self._writes: dict[str, Deferred[None]] = {}
        self.alternates = self._alternates()
        self._handlers: dict[str, Callable[[Request, Pot, str | None], Reply | Deferred[Reply]]]
        self._handlers = {
            "BREW": self._brew,
            "POST": self._post,
            "GET": self._get,
            "HEAD": self._get,
            "PROPFIND": self._propfind,
            "WHEN": self._when,
            "OPTIONS": self._options,
        }
        self._resolved: BoundedCache[tuple[str, str | None], _Resolved | Reply]
        self._resolved = BoundedCache(1024)
        self._status_replies: dict[str, Reply] = {}
        for pot in self.pots:
            pot.subscribe(self._forget_status)
            if history is not None:
                pot.subscribe(self._record)

    def _forget_status(self, brew: Brew) -> None:
        self._status_replies.pop(brew.pot, None)

    def _record(self, brew: Brew) -> None:
        assert self._history is not None
        write = self._history.record(brew).addCallback(lambda _: True)
        write.addErrback(self._write_failed, brew)
        self._writes[brew.pot] = write

    def _write_failed(self, failure: Failure, brew: Brew) -> bool:
        self.log.failure("could not record brew {id}", failure, id=brew.id)
        return False

    def _written(self, pot: Pot) -> Deferred[bool]:
        """Fires with whether the pot's latest change reached the history."""
        write = self._writes.get(pot.name)
        if write is None:
            return succeed(True)
        if write.called:
            return succeed(write.result)
        done: Deferred[bool] = Deferred()

        def relay(ok: bool) -> bool:
            done.callback(ok)
            return ok

        write.addCallback(relay)
        return done

    def _alternates(self) -> str:
        entries = []
        for pot in self.pots:
            if pot.spec.kind is PotKind.COFFEE or pot.spec.coffee is CoffeeSupply.YES:
                path = "/" if pot.index == 0 else f"/pot-{pot.index}"
                entries.append(f'{{"{path}" {{type message/coffeepot}}}}')
            entries.extend(
                f'{{"/pot-{pot.index}/{v.name}" {{type message/teapot}}}}'
                for v in pot.spec.varieties
            )
        return ", ".join(entries)

    def handle(self, request: Request) -> Reply | Deferred[Reply]:
        """Answer C{request}; never raises for anything a client can send."""
        handler = self._handlers.get(request.method)
        if handler is None:
            return _text(
                501, f"{request.method} is not an HTCPCP method; try one of: {POT_METHODS}"
            )
        resolved = self._resolve(request)
        if isinstance(resolved, Reply):
            return resolved
        try:
            if resolved.pot is None:
                return self._log.answer(request, resolved.target)
            return handler(request, resolved.pot, resolved.variety)
        except _Refusal as refusal:
            return refusal.reply

    def _resolve(self, request: Request) -> _Resolved | Reply:
        """Find the resource a request is for (remembered per target and Use-Pot)."""
        key = (request.target, request.headers.get("use-pot"))
        resolved = self._resolved.get(key)
        if resolved is None:
            try:
                resolved = self._find_resource(*key)
            except _Refusal as refusal:
                resolved = refusal.reply
            self._resolved.remember(key, resolved)
        return resolved

    def _find_resource(self, raw_target: str, use_pot: str | None) -> _Resolved:
        try:
            target = parse_target(raw_target)
        except TargetError as error:
            raise _Refusal(_text(error.status, error.detail)) from error
        if target.host is not None and target.host not in self._names:
            raise _Refusal(_text(404, f"this server does not answer to {target.host!r}"))
        segments = target.segments
        if segments == ("log",):
            return _Resolved(None, None, target)
        if len(segments) > 2:
            raise _Refusal(_text(404, "no such resource"))
        if segments:
            pot = self._find_pot(segments[0])
        else:
            pot = self._find_pot(use_pot.strip()) if use_pot else self.pots[0]
        variety = segments[1] if len(segments) == 2 else None
        if variety is not None and not any(
            v.name.lower() == variety.lower() for v in pot.spec.varieties
        ):
            raise _Refusal(_text(404, f"pot {pot.name} has no variety {variety!r}"))
        return _Resolved(pot, variety, target)

    def _find_pot(self, designator: str) -> Pot:
        lowered = designator.lower()
        if lowered.startswith("pot-") and lowered[4:].isdigit():
            index = int(lowered[4:])
            if index < len(self.pots):
                return self.pots[index]
        elif lowered in self._by_name:
            return self._by_name[lowered]
        raise _Refusal(_text(404, f"there is no pot {designator!r} here"))

    def _get(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        if "accept-additions" in request.headers or "?" in request.target:
            self._additions(request, pot, None)
        reply = self._status_replies.get(pot.name)
        if reply is None:
            reply = Reply(200, json.dumps(brew_status(pot)).encode("utf-8"))
            if pot.state in (State.IDLE, State.READY):
                self._status_replies[pot.name] = reply
        return reply

    def _propfind(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        spec = pot.spec
        brew = pot.current
        return _json(
            {
                "pot": {
                    "name": pot.name,
                    "index": pot.index,
                    "kind": spec.kind.value,
                    "state": pot.state.value,
                    "brew_time": spec.brew_time,
                    "pour_time": spec.pour_time,
                    "additions": [a.name for a in spec.additions],
                    "varieties": {v.name: v.steep_time for v in spec.varieties},
                },
                "bean": asdict(brew.bean) if brew and brew.bean else None,
                "beverage": brew.beverage if brew else None,
                "variety": brew.variety if brew else None,
            }
        )

    def _options(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        return Reply(200, b"", TEXT, (("Allow", POT_METHODS),))

    def _when(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        try:
            brew = pot.when()
        except NotPouring:
            return _text(409, f"no milk is pouring from pot {pot.name}: nothing to say when to")
        return self._after_write(pot, brew)

    def _post(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        self.log.info("POST to {pot} is deprecated (RFC 2324 2.1.1): use BREW", pot=pot.name)
        return self._brew(request, pot, variety)

    def _brew(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media not in COFFEE_TYPES and media != TEA_TYPE:
            return _text(
                415,
                "BREW needs Content-Type: message/coffeepot (or message/teapot for tea)",
            )
        command = request.body.strip().lower()
        if command not in (b"start", b"stop"):
            return _text(400, 'the body of a BREW must be "start" or "stop"')
        if command == b"stop":
            return self._stop(pot)
        if media == TEA_TYPE:
            return self._start_tea(request, pot, variety)
        return self._start_coffee(request, pot)

    def _stop(self, pot: Pot) -> Reply | Deferred[Reply]:
        try:
            brew = pot.stop()
        except NotBrewing:
            return _text(409, f"pot {pot.name} is not brewing: nothing to stop")
        return self._after_write(pot, brew)

    def _start_coffee(self, request: Request, pot: Pot) -> Reply | Deferred[Reply]:
        spec = pot.spec
        if spec.kind is PotKind.TEAPOT:
            if spec.coffee is CoffeeSupply.NEVER:
                return _text(418, f"I'm a teapot: {pot.name} brews tea, not coffee")
            if spec.coffee is CoffeeSupply.OUT:
                return _text(503, f"{pot.name} is out of coffee for now", ("Retry-After", "3600"))
        additions = self._additions(request, pot, None)
        return self._start(pot, additions, None, (("Alternates", self.alternates),))

    def _start_tea(
        self, request: Request, pot: Pot, variety_name: str | None
    ) -> Reply | Deferred[Reply]:
        spec = pot.spec
        if spec.kind is not PotKind.TEAPOT:
            return _text(415, f"pot {pot.name} is a coffee pot: send message/coffeepot")
        if variety_name is None:
            names = ", ".join(v.name for v in spec.varieties)
            return _text(
                300, f"choose a variety of pot {pot.name}: {names}", ("Alternates", self.alternates)
            )
        variety = next(v for v in spec.varieties if v.name.lower() == variety_name.lower())
        additions = self._additions(request, pot, variety)
        return self._start(pot, additions, variety, ())

    def _additions(
        self, request: Request, pot: Pot, variety: Variety | None
    ) -> tuple[Addition, ...]:
        header = request.headers.get("accept-additions", "")
        query = request.target.partition("?")[2]
        try:
            asked = parse_accept_additions(header, split_query(query))
        except AdditionsError as error:
            raise _Refusal(_text(400, f"Accept-Additions: {error}")) from error
        catalogue = self._catalogues[pot.name]
        missing = [name for name in asked.wanted if addition_key(name) not in catalogue]
        if missing:
            raise _Refusal(self._not_acceptable(request, pot))
        additions = tuple(catalogue[addition_key(name)] for name in asked.wanted)
        beverage = variety.name if variety else "coffee"
        for beverage_rule, addition_rule in pot.spec.forbidden:
            if beverage_rule not in ("*", beverage) and addition_key(beverage_rule) != addition_key(
                beverage
            ):
                continue
            for addition in additions:
                if addition_rule in (addition.kind, "*") or addition_key(
                    addition_rule
                ) == addition_key(addition.name):
                    raise _Refusal(_text(403, f"{addition.name} in {beverage} is not done here"))
        return additions

    def _not_acceptable(self, request: Request, pot: Pot) -> Reply:
        listing = ", ".join(a.name for a in pot.spec.additions)
        return _text(406, listing) if request.method != "HEAD" else Reply(406, b"", TEXT)

    def _start(
        self,
        pot: Pot,
        additions: tuple[Addition, ...],
        variety: Variety | None,
        headers: tuple[tuple[str, str], ...],
    ) -> Reply | Deferred[Reply]:
        try:
            brew = pot.start(additions, variety)
        except PotBusy as busy:
            seconds = max(1, math.ceil(busy.retry_after))
            state = "pouring milk" if pot.state is State.POURING else "brewing"
            return _text(
                409,
                f"pot {pot.name} is busy {state}: try again in {seconds} s",
                ("Retry-After", str(seconds)),
            )
        return self._after_write(pot, brew, headers)

    def _after_write(
        self, pot: Pot, brew: Brew, headers: tuple[tuple[str, str], ...] = ()
    ) -> Reply | Deferred[Reply]:
        reply = Reply(200, json.dumps(brew_status(pot, brew)).encode("utf-8"), JSON, headers)
        if self._history is None:
            return reply
        unrecorded = _text(500, "the pot changed but the history could not be written")
        return self._written(pot).addCallback(lambda ok: reply if ok else unrecorded)
