# -*- test-case-name: tests.test_check -*-
"""
The values a conformance run is made of: cases, their levels, what each
connection sent and received, and each case's verdict.

Nothing here does I/O; the runner fills these in and the reports read them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from htcpcp.message import Response

if TYPE_CHECKING:
    from htcpcp.check.context import CaseContext

__all__ = [
    "Attempt",
    "Case",
    "CaseFailed",
    "CaseList",
    "CaseResult",
    "CaseSkipped",
    "Ending",
    "Level",
    "Outcome",
    "succeeded",
]


def succeeded(status: int) -> bool:
    """Whether a status code says the request succeeded (2xx, RFC 9110 section 15.3)."""
    return 200 <= status < 300


class Level(enum.Enum):
    """How binding the rule a case checks is: a MUST fails, a SHOULD warns."""

    MUST = "MUST"
    SHOULD = "SHOULD"


class Outcome(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"


class Ending(enum.Enum):
    """How one connection ended."""

    ANSWERED = "answered"
    """Every response asked for arrived; the checker closed the connection."""
    CLOSED = "closed"
    """The server closed the connection."""
    TIMEOUT = "timeout"
    """The server sent nothing more within the timeout."""
    REFUSED = "refused"
    """The connection could not be made (nothing listening, TLS failed)."""
    OVERFLOW = "overflow"
    """The server sent more than the checker reads."""


@dataclass(frozen=True)
class Attempt:
    """
    One connection: the exact bytes sent and received, and how it ended.

    @ivar responses: every response read, interim (1xx) ones included.
    @ivar problem: what was wrong with the received bytes as HTTP, or C{""}.
    @ivar error: why the connection could not be made, or C{""}.
    """

    sent: bytes
    received: bytes
    ending: Ending
    elapsed: float
    responses: tuple[Response, ...] = ()
    problem: str = ""
    error: str = ""

    @property
    def finals(self) -> tuple[Response, ...]:
        """The final (non-1xx) responses, in order."""
        return tuple(r for r in self.responses if r.status >= 200)

    @property
    def response(self) -> Response | None:
        """The first final response, if one was read."""
        finals = self.finals
        return finals[0] if finals else None


class CaseFailed(Exception):
    """A case's rule was broken; C{sentence} tells the server's author what to fix."""

    def __init__(self, sentence: str, attempt: Attempt | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.attempt = attempt


class CaseSkipped(Exception):
    """A case could not be checked against this server (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CaseBody = Callable[["CaseContext"], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Case:
    """
    One numbered check.

    @ivar id: C{profile/number}, e.g. C{lab/7}.
    @ivar cites: the RFC section or lab task the rule comes from.
    """

    id: str
    name: str
    cites: str
    level: Level
    body: CaseBody = field(repr=False, compare=False)

    @property
    def profile(self) -> str:
        return self.id.partition("/")[0]


@dataclass(frozen=True)
class CaseResult:
    """What one case found, with every connection it made."""

    case: Case
    outcome: Outcome
    elapsed: float
    message: str = ""
    failing: Attempt | None = None
    attempts: tuple[Attempt, ...] = ()


class CaseList:
    """The cases of one profile, numbered in the order they are written."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.cases: list[Case] = []

    def case(
        self, name: str, cites: str, level: Level = Level.MUST
    ) -> Callable[[CaseBody], CaseBody]:
        """Decorate an async function C{(context) -> None} as the next case."""

        def register(body: CaseBody) -> CaseBody:
            number = len(self.cases) + 1
            self.cases.append(Case(f"{self.profile}/{number}", name, cites, level, body))
            return body

        return register
