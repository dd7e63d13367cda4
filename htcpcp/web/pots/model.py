# -*- test-case-name: tests.test_web_live -*-
"""
The front end's picture of the pots, as values: what each pot is
(L{PotInfo}), what is in it (L{PotView}), why the pot server cannot be
used (L{Problem}), and everything at one moment (L{Snapshot}).

A pot server is read as the pots' own server speaks, but another HTCPCP
server (a peer's, a student's) may answer differently: whatever cannot be
read raises L{PotAnswerError} with a message that says, in words, what the
server said and what was missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

__all__ = [
    "ACTIVE_STATES",
    "PotAnswerError",
    "PotInfo",
    "PotView",
    "Problem",
    "Snapshot",
    "read_json",
]

ACTIVE_STATES: Final = frozenset({"brewing", "pouring"})
"""States a pot leaves by itself, after its C{seconds_left}."""
STATES: Final = ("idle", "brewing", "pouring", "ready")
POT_KEYS: Final = ("name", "kind", "brew_time", "pour_time", "additions")
QUOTED: Final = 80
"""At most this many characters of a foreign answer are quoted in a message."""


class PotAnswerError(Exception):
    """The pot server answered something the front end cannot use; the message says what."""


def _quote(text: str) -> str:
    return text if len(text) <= QUOTED else text[:QUOTED] + "…"


def read_json(body: bytes, what: str) -> Any:
    """The JSON of an answer's C{body}; L{PotAnswerError} quoting it if it is not JSON."""
    try:
        return json.loads(body)
    except ValueError as error:
        said = _quote(body.decode("utf-8", "replace").strip()) or "nothing"
        raise PotAnswerError(f"{what} answered {said!r}, which is not JSON") from error


def _keys(document: object) -> str:
    if not isinstance(document, Mapping) or not document:
        return "nothing"
    return ", ".join(sorted(str(key) for key in document)[:12])


@dataclass(frozen=True)
class PotInfo:
    """A pot's catalogue entry: what it is and what it can brew."""

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
    def read(cls, index: int, pot: object, what: str) -> PotInfo:
        """
        A pot's description (the C{pot} object of PROPFIND, an entry of C{/pots}).

        @param what: how to name the answer in an error message.
        @raise PotAnswerError: saying which keys are missing or odd.
        """
        if not isinstance(pot, Mapping):
            raise PotAnswerError(f"{what} describes a pot as {_quote(repr(pot))}, not an object")
        missing = [key for key in POT_KEYS if key not in pot]
        if missing:
            raise PotAnswerError(
                f"{what} does not say the pot's {', '.join(missing)} (it gave: {_keys(pot)})"
            )
        try:
            varieties = pot.get("varieties") or {}
            return cls(
                index=index,
                name=str(pot["name"]),
                kind=str(pot["kind"]),
                brew_time=float(pot["brew_time"]),
                pour_time=float(pot["pour_time"]),
                additions=tuple(str(a) for a in pot["additions"]),
                varieties=tuple((str(k), float(v)) for k, v in varieties.items()),
            )
        except (TypeError, ValueError, AttributeError) as error:
            raise PotAnswerError(
                f"{what} describes the pot in a form not understood: {error}"
            ) from error

    @classmethod
    def from_propfind(cls, index: int, body: object) -> PotInfo:
        """Read a PROPFIND body, whose C{pot} object describes the pot."""
        what = f"PROPFIND /pot-{index}"
        if not isinstance(body, Mapping) or "pot" not in body:
            raise PotAnswerError(
                f'{what} answered without the "pot" object this front end reads'
                f" (it gave: {_keys(body)}); is it another kind of HTCPCP server?"
            )
        return cls.read(index, body["pot"], what)


@dataclass(frozen=True)
class PotView:
    """
    A pot and its status (the body of its GET: C{{}} when empty).

    @ivar known: C{False} while the pot server cannot be reached: the
        status is then unknown, whatever was seen last.
    """

    info: PotInfo
    status: Mapping[str, Any] = field(default_factory=dict)
    known: bool = True

    @property
    def state(self) -> str:
        """idle, brewing, pouring or ready; unknown while the pot server is away."""
        if not self.known:
            return "unknown"
        state = self.status.get("state")
        return state if state in STATES else "ready" if self.status else "idle"

    @property
    def seconds_left(self) -> float:
        try:
            return max(0.0, float(self.status.get("seconds_left") or 0.0))
        except (TypeError, ValueError):
            return 0.0

    @property
    def outcome(self) -> str:
        return str(self.status.get("outcome") or "")

    @property
    def drink(self) -> str:
        """C{Coffee}, or C{Earl-grey tea}."""
        variety = self.status.get("variety")
        drink = str(self.status.get("beverage_type") or "coffee")
        if variety:
            drink = f"{variety} tea"
        return drink[:1].upper() + drink[1:]

    def summary(self) -> str:
        """What is in the pot, in words: C{Coffee with Cream and Whisky}."""
        if not self.known:
            return "Unknown"
        if not self.status:
            return "Ready for an order"
        additions = [str(a) for a in self.status.get("additions") or ()]
        if not additions:
            return self.drink
        if len(additions) == 1:
            return f"{self.drink} with {additions[0]}"
        return f"{self.drink} with {', '.join(additions[:-1])} and {additions[-1]}"


@dataclass(frozen=True)
class Problem:
    """
    Why the pot server could not be used, as an HTTP status and words.

    @ivar since: when (the clock's seconds) the pot server was first found
        unusable in this outage.
    """

    status: int
    title: str
    detail: str
    since: float = 0.0


@dataclass(frozen=True)
class Snapshot:
    """
    Every pot's status at C{taken} (the clock's seconds), or the problem.

    While there is a problem, C{pots} are the pots last seen, not C{known}.

    @ivar due: when the snapshot is to be taken again: at the pots' next
        change, after a heartbeat, or after a retry while there is a problem.
    @ivar generation: how many changes the front end had made to the pots
        when the snapshot began (see L{PotGateway.changed}).
    """

    taken: float
    pots: tuple[PotView, ...] = ()
    problem: Problem | None = None
    generation: int = 0
    due: float = 0.0

    @cached_property
    def fingerprint(self) -> str:
        """
        What the snapshot says (not when): equal for snapshots that say the same.

        A string, made once, so that finding a page kept for it costs little.
        """
        statuses = [json.dumps(view.status, sort_keys=True) for view in self.pots]
        known = [view.known for view in self.pots]
        return repr((self.problem, [view.info for view in self.pots], statuses, known))

    @property
    def active(self) -> bool:
        """Whether a pot will change by itself (brewing or pouring)."""
        return any(view.state in ACTIVE_STATES for view in self.pots)
