# -*- test-case-name: tests.test_hostile_limits -*-
"""
Every change of a pot written to the brew history: record, then acknowledge.

A change a client asks for is made through L{ChangeRecorder.make}, which
makes it, starts writing it and hands back the write, so the dispatcher
acknowledges the change only once the write succeeds (and undoes it when
the write fails).  Changes the pots make on their own clock (a brew that
is done, milk that starts or stops pouring, a brew resumed at start-up)
are recorded by subscription: nobody waits for them, and a write that
fails is logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.pot import Brew, Pot
from htcpcp.storage import History

__all__ = ["ChangeRecorder"]


class ChangeRecorder:
    """
    Writes the changes of C{pots} to C{history} (C{None}: keeps none).
    """

    log = Logger()

    def __init__(self, pots: Sequence[Pot], history: History | None) -> None:
        self._history = history
        self._making: str | None = None
        if history is not None:
            for pot in pots:
                pot.subscribe(self._announced)

    def make(self, pot: Pot, change: Callable[[], Brew]) -> tuple[Brew, Deferred[bool] | None]:
        """
        Make C{change} to C{pot} and start recording it.

        @return: the changed brew, and its write: a Deferred firing C{True}
            once recorded, C{False} if it could not be (C{None} without a
            history).
        @raise Exception: whatever C{change} raises; nothing is recorded.
        """
        self._making = pot.name
        try:
            brew = change()
        finally:
            self._making = None
        return brew, self._record(brew)

    def _announced(self, brew: Brew) -> None:
        """A pot changed: record it, unless it is the change L{make} records itself."""
        if brew.pot != self._making:
            self._record(brew)

    def _record(self, brew: Brew) -> Deferred[bool] | None:
        if self._history is None:
            return None
        return self._history.record(brew).addCallbacks(
            _recorded, self._write_failed, errbackArgs=(brew,)
        )

    def _write_failed(self, failure: Failure, brew: Brew) -> bool:
        self.log.failure("could not record brew {id}", failure, id=brew.id)
        return False


def _recorded(_: None) -> bool:
    return True
