# -*- test-case-name: tests.test_storage -*-
"""
Durable brew history in SQLite, written off the reactor thread.

One connection through L{twisted.enterprise.adbapi} (so writes are
serialised and never block the reactor), WAL journal with every commit
synced to disk, and the schema of L{htcpcp.history_schema}.  Each change of
a brew updates the brew's row and appends the change to C{events}.  Writes
are committed in groups: the changes recorded in one turn of the reactor
(from several connections) go into one transaction, begun once that turn
is over; those that arrive while it is being written wait and all go into
the next; each change is acknowledged only once its transaction is on disk.

Reading costs what a page costs, whatever the size of the history: pages
are ranges of the brews' sequence numbers (C{page}, or a C{before} cursor
that stays put while brews are added), and the totals come from summary
tables the schema's triggers keep.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from htcpcp.history_queries import (
    CHART_DAYS,
    PRUNE_BATCH,
    HistoryPage,
    Slice,
    prune_some,
    read_batch,
    read_page,
    reclaim,
    take_unfinished,
    write_brews,
)
from htcpcp.history_schema import (
    HistoryUnusable,
    configure,
    migrate,
    unusable,
)
from htcpcp.pot import Brew
from htcpcp.retention import KEEP_ALL, Retention

__all__ = [
    "CHART_DAYS",
    "PRUNE_BATCH",
    "History",
    "HistoryPage",
    "HistoryUnusable",
    "Slice",
    "verify",
    "write_brews",
]

T = TypeVar("T")


def _opened(path: str, then: Callable[[sqlite3.Cursor], T]) -> T:
    """
    Open the history at C{path}, bring its schema up to date and run
    C{then} in the same transaction (blocking).

    @raise HistoryUnusable: the file cannot be opened, is not a brew
        history, is damaged, locked, or newer than this code.
    """
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            configure(connection)
            with connection:
                cursor = connection.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                migrate(cursor)
                return then(cursor)
    except (sqlite3.Error, HistoryUnusable) as error:
        raise unusable(path, error) from None


def _global_reactor() -> IReactorTime:
    from twisted.internet import reactor

    return reactor


def verify(path: str) -> None:
    """
    Check that the history at C{path} can be used (making it if it is not
    there, migrating it if it is old), blocking.

    @raise HistoryUnusable: with a one-line reason and what to do.
    """
    _opened(path, lambda cursor: None)


@dataclass
class _Writes:
    """Changes waiting for the next transaction, and whether one is being written."""

    waiting: list[tuple[Brew, Deferred[None]]] = field(default_factory=list)
    writing: bool = False  # a transaction is being written, or begins at the end of this turn


class History:
    """The brew history of one pot server, in C{path}, keeping what C{keep} says."""

    def __init__(
        self, path: str, keep: Retention = KEEP_ALL, clock: IReactorTime | None = None
    ) -> None:
        self.path = path
        self.keep = keep
        self._clock = clock or _global_reactor()  # the database thread answers to it anyway
        self._pool = adbapi.ConnectionPool(
            "sqlite3",
            path,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=configure,
            cp_noisy=False,
        )
        self._writes = _Writes()
        self._closing = self._pool_closed = False
        self._closed: list[Deferred[None]] = []

    def prepare(self) -> list[Brew]:
        """
        Bring the schema up to date and take the brews left in progress.

        This blocks: call it once at start-up, before requests are served.
        The brews returned are marked as resumed; the caller resumes them.
        In-progress brews are found by index, so this costs the same for a
        history of ten brews as for a million.

        @raise HistoryUnusable: the file cannot be opened, is not a brew
            history, is damaged, locked, or newer than this code.
        """
        return _opened(self.path, take_unfinished)

    def record(self, brew: Brew) -> Deferred[None]:
        """
        Store the brew's new state; fires once it is on disk.

        The changes recorded in this turn of the reactor go together into
        one transaction, begun once the turn is over; changes recorded
        while a transaction is being written wait and go together into the
        next one; all in the order they were recorded.
        """
        written: Deferred[None] = Deferred()
        self._writes.waiting.append((brew, written))
        if not self._writes.writing:
            self._writes.writing = True
            self._clock.callLater(0, self._write_waiting)
        return written

    def _write_waiting(self) -> None:
        batch, self._writes.waiting = self._writes.waiting, []
        self._writes.writing = True
        brews = [brew for brew, _ in batch]
        writing = self._pool.runInteraction(write_brews, brews)
        writing.addBoth(self._batch_written, batch)

    def _batch_written(
        self, result: Failure | None, batch: list[tuple[Brew, Deferred[None]]]
    ) -> None:
        self._writes.writing = False
        for _, written in batch:
            if isinstance(result, Failure):
                written.errback(result)
            else:
                written.callback(None)
        if self._writes.writing:
            return
        if self._writes.waiting:
            self._write_waiting()
        elif self._closing:
            self._close_pool()

    def page(
        self, pot: str | None, page: int, per_page: int, before: int | None = None
    ) -> Deferred[HistoryPage]:
        """
        One page of brews, newest first, with totals.

        C{page} counts from the newest brews; C{before} (a brew's C{seq},
        as a page's C{next} gives it) starts the page just after that brew
        instead, and stays put while new brews are added.
        """
        reading: Deferred[HistoryPage] = self._pool.runInteraction(
            read_page, Slice(pot, before), page, per_page
        )
        return reading

    def batch(
        self, chosen: Slice, size: int, render: Callable[[list[dict[str, Any]]], T]
    ) -> Deferred[tuple[T, int | None]]:
        """
        The next C{size} brews of C{chosen}, newest first, rendered by
        C{render} on the database thread, and the cursor to continue from
        (C{None} after the oldest).
        """
        reading: Deferred[tuple[T, int | None]] = self._pool.runInteraction(
            read_batch, chosen, size, render
        )
        return reading

    async def prune(self, now: float) -> int:
        """
        Remove the brews L{keep} no longer keeps (never one in progress)
        and give the space back; how many were removed.

        It works in transactions of C{PRUNE_BATCH} brews, so changes being
        recorded meanwhile wait for one batch at most.
        """
        if self.keep.keeps_all:
            return 0
        removed = 0
        while True:
            some: int = await self._pool.runInteraction(prune_some, self.keep, now)
            removed += some
            if some < PRUNE_BATCH:
                break
        if removed:
            await self._pool.runWithConnection(reclaim)
        return removed

    def close(self) -> Deferred[None]:
        """Finish the writes recorded so far, then stop the database thread (once)."""
        closed: Deferred[None] = Deferred()
        if self._closing and not self._writes.writing:
            closed.callback(None)
            return closed
        self._closed.append(closed)
        if not self._closing:
            self._closing = True
            if not self._writes.writing:
                self._close_pool()
        return closed

    def _close_pool(self) -> None:
        if self._pool_closed:
            return
        self._pool_closed = True
        self._pool.close()
        waiting, self._closed = self._closed, []
        for closed in waiting:
            closed.callback(None)
