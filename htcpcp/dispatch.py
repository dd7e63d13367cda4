"""
What the pot server answers: one L{Request} in, one L{Reply} out.

The L{Dispatcher} resolves the target to a pot (or the history log, or the
list of pots), checks method, media type, body and additions, drives the
pot, and records each change in the brew history before acknowledging it:
a change that cannot be recorded is undone and answered 503, so nothing is
acknowledged that was not recorded, and nothing brews unrecorded.  Changes
to one pot are made one after another, each once the one before it is
recorded.  It knows nothing about connections; L{htcpcp.protocol} moves
the bytes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from twisted.internet.defer import Deferred
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
READ_ONLY_METHODS: Final = "GET, HEAD, OPTIONS"
RFC_COFFEE_TYPE: Final = "message/coffeepot"
COFFEE_TYPES: Final = frozenset({RFC_COFFEE_TYPE, "application/coffee-pot-command"})
TEA_TYPE: Final = "message/teapot"
MEDIA_TYPES: Final = COFFEE_TYPES | {TEA_TYPE}
CHANGES: Final = frozenset({"BREW", "POST", "WHEN"})
MAX_POT_DIGITS: Final = 9
UNRECORDED_RETRY: Final = "5"
"""Seconds a client is asked to wait after a change that could not be recorded (503)."""
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
    return Reply(status, _compact(value), JSON, headers)


def _compact(value: object) -> bytes:
    """JSON on one line without spaces: the lab's client reads it from one 1,024-byte recv."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _lab_time(seconds: float | None) -> str:
    return "" if seconds is None else time.strftime(LAB_TIME, time.localtime(seconds))


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def brew_status(pot: Pot, brew: Brew | None = None) -> dict[str, Any]:
    """
    A pot's GET body: C{{}} when empty, else the lab's keys and more.

    The lab's web client reads C{date}, C{beverage_type} (C{"Coffee"} or
    C{"Tea"}), C{additions} (as it sent them), C{brew_time_end},
    C{pour_milk_start} (with milk: when it starts pouring, known from the
    start; else C{""}), C{pour_milk_stop} (C{false} until the milk has
    stopped) and C{coffee_bean}, with times in local time; the ISO 8601 UTC
    times and the rest are ours.
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
        "beverage_type": brew.beverage.capitalize(),
        "additions": list(brew.additions),
        "brew_time_end": _lab_time(brew.brew_end),
        "pour_milk_start": _lab_time(brew.brew_end) if brew.milk else "",
        "pour_milk_stop": brew.pour_stop is not None,
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
        self._writes: dict[str, Deferred[bool]] = {}
        self._turns: dict[str, Deferred[None]] = {}
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
        """Write every change of a pot; the latest write waits in C{_writes} for its answer."""
        assert self._history is not None
        write = self._history.record(brew).addCallback(lambda _: True)
        write.addErrback(self._write_failed, brew)
        self._writes[brew.pot] = write

    def _write_failed(self, failure: Failure, brew: Brew) -> bool:
        self.log.failure("could not record brew {id}", failure, id=brew.id)
        return False

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
        media = request.headers.get("content-type")
        if media is not None and _media_type(media) not in MEDIA_TYPES:
            return _text(
                415,
                f"Content-Type {media!r} is not an HTCPCP type: use message/coffeepot,"
                " application/coffee-pot-command or message/teapot",
            )
        pot = resolved.pot
        if pot is None:
            if resolved.target.segments == ("pots",):
                return self._pots_resource(request)
            return self._log.answer(request, resolved.target)
        if request.method in CHANGES:
            return self._in_turn(pot, lambda: _refused(handler, request, pot, resolved.variety))
        return _refused(handler, request, pot, resolved.variety)

    def _in_turn(
        self, pot: Pot, change: Callable[[], Reply | Deferred[Reply]]
    ) -> Reply | Deferred[Reply]:
        """Make changes to C{pot} one at a time: each once the one before is recorded."""
        before = self._turns.get(pot.name)
        if before is None:
            reply = change()
            if not isinstance(reply, Deferred):
                return reply
        else:
            reply = before.addCallback(lambda _: change())
        turn: Deferred[None] = Deferred()
        self._turns[pot.name] = turn

        def next_turn(result: Reply | Failure) -> Reply | Failure:
            if self._turns.get(pot.name) is turn:
                del self._turns[pot.name]
            turn.callback(None)
            return result

        return reply.addBoth(next_turn)

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
            target = parse_target(raw_target, http=True)
        except TargetError as error:
            raise _Refusal(_text(error.status, error.detail)) from error
        if target.host is not None and target.host not in self._names:
            raise _Refusal(_text(404, f"this server does not answer to {target.host!r}"))
        segments = target.segments
        if segments in (("log",), ("pots",)):
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
        digits = lowered[4:]
        if lowered.startswith("pot-") and digits.isascii() and digits.isdigit():
            index = int(digits) if len(digits) <= MAX_POT_DIGITS else len(self.pots)
            if index < len(self.pots):
                return self.pots[index]
        elif lowered in self._by_name:
            return self._by_name[lowered]
        raise _Refusal(_text(404, f"there is no pot {designator!r} here"))

    def _pots_resource(self, request: Request) -> Reply:
        """The list of pots: what each one's PROPFIND says of the pot itself."""
        refusal = _read_only(request, "the list of pots")
        if refusal is not None:
            return refusal
        return _json({"pots": [pot_properties(pot) for pot in self.pots]})

    def _get(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        if "accept-additions" in request.headers or "?" in request.target:
            self._additions(request, pot, None)
        reply = self._status_replies.get(pot.name)
        if reply is None:
            reply = Reply(200, _compact(brew_status(pot)))
            if pot.state in (State.IDLE, State.READY):
                self._status_replies[pot.name] = reply
        return reply

    def _propfind(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        """
        The bean's properties at the top (the lab's beans page reads them
        there), the pot's own under C{pot}, the bean in the cup under C{bean}.

        At the top, a coffee pot always has a bean: the one in the cup, else
        the one the next coffee will be made of.
        """
        brew = pot.current
        return _json(
            {
                **(asdict(pot.bean) if pot.bean is not None else {}),
                "pot": pot_properties(pot),
                "bean": asdict(brew.bean) if brew and brew.bean else None,
                "beverage": brew.beverage if brew else None,
                "variety": brew.variety if brew else None,
            }
        )

    def _options(self, request: Request, pot: Pot, variety: str | None) -> Reply:
        return Reply(200, b"", TEXT, (("Allow", POT_METHODS),))

    def _when(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        before = (pot.state, pot.current)
        try:
            brew = pot.when()
        except NotPouring:
            return _text(409, f"no milk is pouring from pot {pot.name}: nothing to say when to")
        return self._after_write(pot, brew, before)

    def _post(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        self.log.info("POST to {pot} is deprecated (RFC 2324 2.1.1): use BREW", pot=pot.name)
        return self._brew(request, pot, variety)

    def _brew(self, request: Request, pot: Pot, variety: str | None) -> Reply | Deferred[Reply]:
        media = _media_type(request.headers.get("content-type", ""))
        if media not in MEDIA_TYPES:
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
        return self._start_coffee(request, pot, media)

    def _stop(self, pot: Pot) -> Reply | Deferred[Reply]:
        """Stop a brew; a finished one is taken away, and the pot is empty again."""
        if pot.state is State.READY:
            brew = pot.take_away()
            self._status_replies.pop(pot.name, None)
            return _json(dict(_fixed_status(brew, pot.name, pot.index)))
        before = (pot.state, pot.current)
        try:
            brew = pot.stop()
        except NotBrewing:
            return _text(409, f"pot {pot.name} is empty: nothing to stop")
        return self._after_write(pot, brew, before)

    def _start_coffee(self, request: Request, pot: Pot, media: str) -> Reply | Deferred[Reply]:
        """
        Brew coffee.  A C{message/coffeepot} BREW is answered with the teas on
        offer too (RFC 7168 section 2.1.1, a SHOULD); the lab's
        C{application/coffee-pot-command} is not, so its answer stays small
        enough for the lab's one C{recv(1024)}.
        """
        spec = pot.spec
        if spec.kind is PotKind.TEAPOT:
            if spec.coffee is CoffeeSupply.NEVER:
                return _text(418, f"I'm a teapot: {pot.name} brews tea, not coffee")
            if spec.coffee is CoffeeSupply.OUT:
                return _text(503, f"{pot.name} is out of coffee for now", ("Retry-After", "3600"))
        additions = self._additions(request, pot, None)
        alternates = (("Alternates", self.alternates),) if media == RFC_COFFEE_TYPE else ()
        return self._start(pot, additions, None, alternates)

    def _start_tea(
        self, request: Request, pot: Pot, variety_name: str | None
    ) -> Reply | Deferred[Reply]:
        """
        Brew tea.  At C{/} (no pot named) brewing never starts: the answer is
        300 with the teas on offer (RFC 7168 section 2.1.1), even where the
        default pot is a coffee pot.
        """
        spec = pot.spec
        at_root = not self._resolve(request).target.segments and "use-pot" not in request.headers
        if spec.kind is not PotKind.TEAPOT and not at_root:
            return _text(415, f"pot {pot.name} is a coffee pot: send message/coffeepot")
        if spec.kind is not PotKind.TEAPOT:
            return _text(300, "choose a tea", ("Alternates", self.alternates))
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
        additions = tuple(
            Addition(name, catalogue[addition_key(name)].kind) for name in asked.wanted
        )
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
        before = (pot.state, pot.current)
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
        return self._after_write(pot, brew, before, headers)

    def _after_write(
        self,
        pot: Pot,
        brew: Brew,
        before: tuple[State, Brew | None],
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Reply | Deferred[Reply]:
        """
        Acknowledge a change once it is recorded; undo it if it cannot be.

        The change's write is the pot's latest, made as the pot announced
        the change (L{_record}).
        """
        reply = Reply(200, _compact(brew_status(pot, brew)), JSON, headers)
        write = self._writes.pop(pot.name, None)
        if write is None:
            return reply

        def acknowledge(recorded: bool) -> Reply:
            if recorded:
                return reply
            pot.restore(*before)
            self._status_replies.pop(pot.name, None)
            return _text(
                503,
                "the brew history could not be written, so nothing was changed; try again",
                ("Retry-After", UNRECORDED_RETRY),
            )

        return write.addCallback(acknowledge)


def _media_type(value: str) -> str:
    """A Content-Type's media type alone, lower-case."""
    return value.partition(";")[0].strip().lower()


def _read_only(request: Request, what: str) -> Reply | None:
    """The answer to a request a read-only resource does not serve, or C{None}."""
    if request.method == "OPTIONS":
        return Reply(200, b"", TEXT, (("Allow", READ_ONLY_METHODS),))
    if request.method not in ("GET", "HEAD"):
        return _text(405, f"{what} is read-only: {READ_ONLY_METHODS}", ("Allow", READ_ONLY_METHODS))
    return None


def _refused(
    handler: Callable[[Request, Pot, str | None], Reply | Deferred[Reply]],
    request: Request,
    pot: Pot,
    variety: str | None,
) -> Reply | Deferred[Reply]:
    """Run a handler; a L{_Refusal} it raises is its answer."""
    try:
        return handler(request, pot, variety)
    except _Refusal as refusal:
        return refusal.reply


def pot_properties(pot: Pot) -> dict[str, Any]:
    """What a pot is: its PROPFIND's C{pot}, and its entry in the list of pots."""
    spec = pot.spec
    return {
        "name": pot.name,
        "index": pot.index,
        "kind": spec.kind.value,
        "state": pot.state.value,
        "brew_time": spec.brew_time,
        "pour_time": spec.pour_time,
        "additions": [a.name for a in spec.additions],
        "varieties": {v.name: v.steep_time for v in spec.varieties},
    }
