# -*- test-case-name: tests.test_twistd -*-
"""
The pot server as a Twisted service, for twistd, a C{.tac} file, or another
application's service tree.

    from htcpcp.service import makePotService
    makePotService(endpoints=["tcp:5030"], dataDir="/var/lib/htcpcp").setServiceParent(app)

L{buildPotServer} gives the pieces (pots, dispatcher, protocol factory)
without listening anywhere, for applications that manage their own ports.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from htcpcp.config import Config, default_config
from htcpcp.dispatch import Dispatcher
from htcpcp.listening import listening_service
from htcpcp.pot import Pot
from htcpcp.server_factory import PotServerFactory
from htcpcp.storage import History
from htcpcp.tls import KeyLog, with_certificate

__all__ = ["HISTORY_FILE", "PotServer", "PotService", "buildPotServer", "makePotService"]

HISTORY_FILE: Final = "history.sqlite3"
PRUNE_INTERVAL: Final = 3600.0
"""Seconds between two applications of C{history-keep} (the first is at start-up)."""

log = Logger()


@dataclass(frozen=True)
class PotServer:
    """The parts of a pot server: pots, their history, and the factory to serve them."""

    pots: tuple[Pot, ...]
    dispatcher: Dispatcher
    factory: PotServerFactory
    history: History | None

    def close(self) -> Deferred[None]:
        """
        Stop the pots' timers (brews stay recorded as in progress) and close
        the history; fires once the writes recorded so far are done.

        The ports serving the factory are the caller's to stop.
        """
        for pot in self.pots:
            pot.shutdown()
        if self.history is None:
            return succeed(None)
        return self.history.close()


def _reactor() -> IReactorTime:
    from twisted.internet import reactor

    return reactor


def buildPotServer(
    config: Config | None = None,
    history: History | None = None,
    clock: IReactorTime | None = None,
    rng: random.Random | None = None,
) -> PotServer:
    """
    Build the pots and the protocol factory for C{config}.

    Brews left in progress in C{history} are resumed with their original
    times (see L{Pot.resume}) before anything is served.
    """
    config = config or default_config()
    clock = clock or _reactor()
    rng = rng or random.Random()
    pots = tuple(
        Pot(spec, index, clock, config.beans, rng.choice) for index, spec in enumerate(config.pots)
    )
    unfinished = history.prepare() if history is not None else []
    dispatcher = Dispatcher(pots, config.host_names(), history)
    by_name = {pot.name: pot for pot in pots}
    for brew in unfinished:
        pot = by_name.get(brew.pot)
        if pot is None:
            assert history is not None
            history.record(replace(brew, outcome="interrupted"))
            log.warn(
                "brew {id} was in pot {pot}, which is gone: interrupted", id=brew.id, pot=brew.pot
            )
            continue
        resumed = pot.resume(brew)
        log.info(
            "resumed brew {id} in pot {pot}: {outcome}",
            id=brew.id,
            pot=pot.name,
            outcome=resumed.outcome,
        )
    factory = PotServerFactory(dispatcher, config, clock)
    return PotServer(pots, dispatcher, factory, history)


class PotService(MultiService):
    """Serves one set of pots on one or more endpoints, with a durable history."""

    def __init__(
        self,
        config: Config,
        endpoints: Sequence[str],
        dataDir: str | Path,
        clock: IReactorTime | None = None,
        keylog: KeyLog | None = None,
    ) -> None:
        super().__init__()
        self.dataDir = Path(dataDir)
        self.dataDir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.endpoints = [with_certificate(e, self.dataDir, config.names) for e in endpoints]
        self._clock = clock
        self._keylog = keylog
        self.server: PotServer | None = None

    def _build(self) -> None:
        if self.server is not None:
            return
        history = History(str(self.dataDir / HISTORY_FILE), self.config.history_keep)
        self.server = buildPotServer(self.config, history, self._clock)
        if not history.keep.keeps_all:
            pruning = TimerService(PRUNE_INTERVAL, self._prune, history)
            pruning.clock = self._clock or _reactor()
            pruning.setServiceParent(self)
        for description in self.endpoints:
            listening_service(
                description, self.server.factory, "the pot server", self._keylog
            ).setServiceParent(self)

    def _prune(self, history: History) -> Deferred[int]:
        """Remove what C{history-keep} no longer keeps; say how much."""
        clock = self._clock or _reactor()
        pruning = Deferred.fromCoroutine(history.prune(clock.seconds()))

        def report(removed: int) -> int:
            if removed:
                log.info(
                    "history-keep {keep}: removed {removed} brews",
                    keep=history.keep.describe(),
                    removed=removed,
                )
            return removed

        return pruning.addCallback(report)

    def privilegedStartService(self) -> None:
        self._build()
        super().privilegedStartService()

    def startService(self) -> None:
        self._build()
        super().startService()

    def stopService(self) -> Deferred[None]:
        stopping: Deferred[None] = super().stopService()
        server = self.server
        if server is not None:
            for pot in server.pots:
                pot.shutdown()

            def close(result: object) -> object:
                server.close()
                return result

            stopping.addBoth(close)
        return stopping


def makePotService(
    config: Config | None = None,
    endpoints: Sequence[str] = ("tcp:5030",),
    dataDir: str | Path = ".htcpcp",
    keylog: KeyLog | None = None,
) -> PotService:
    """
    A service serving the pots of C{config} on C{endpoints}.

    Bare C{ssl:} endpoints get a self-signed certificate generated into
    C{dataDir}, where the brew history is kept too; C{keylog} records their
    TLS secrets.  C{tcp:PORT} and C{ssl:PORT} without an interface listen on
    IPv4 and IPv6 (L{htcpcp.listening}).
    """
    return PotService(config or default_config(), endpoints, dataDir, keylog=keylog)
