# -*- test-case-name: tests.test_storage -*-
"""
Durable brew history in SQLite, written off the reactor thread.

One connection through L{twisted.enterprise.adbapi} (so writes are
serialised and never block the reactor), WAL journal with every commit
synced to disk, and the schema of L{htcpcp.history_schema}.  Each change of
a brew updates the brew's row and appends the change to C{events}; changes
that arrive while a transaction is being written (from several
connections) are written together in the next one, and each is
acknowledged only once its transaction is on disk.

Reading costs what a page costs, whatever the size of the history: pages
are ranges of the brews' sequence numbers (C{page}, or a C{before} cursor
that stays put while brews are added), and the totals come from summary
tables the schema's triggers keep.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, TypeVar

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from htcpcp.history_schema import (
    IN_PROGRESS_WHERE,
    HistoryUnusable,
    configure,
    migrate,
    unusable,
)
from htcpcp.pot import Bean, Brew
from htcpcp.retention import KEEP_ALL, Retention

__all__ = ["CHART_DAYS", "History", "HistoryPage", "HistoryUnusable", "Slice", "verify"]

HistoryPage = dict[str, Any]
T = TypeVar("T")

CHART_DAYS: Final = 90
"""Days of per-day totals a page carries (the latest days, up to its newest brew)."""
PRUNE_BATCH: Final = 10_000
"""Brews removed per transaction by retention, so that writes are not held up for long."""

_COLUMNS: Final = (
    "id, pot, beverage, variety, additions, bean, started, brew_end, milk,"
    " pour_start, pour_stop, stopped, outcome, strength"
)
_RECORD: Final = (
    f"INSERT INTO brews ({_COLUMNS}, seq, pot_seq) VALUES ({', '.join('?' * 14)},"
    " (SELECT IFNULL(MAX(seq), 0) + 1 FROM brews),"
    " (SELECT IFNULL(MAX(pot_seq), 0) + 1 FROM brews WHERE pot = ?))"
    " ON CONFLICT (id) DO UPDATE SET pour_start = excluded.pour_start,"
    " pour_stop = excluded.pour_stop, stopped = excluded.stopped,"
    " outcome = excluded.outcome, strength = excluded.strength"
)


@dataclass(frozen=True)
class Slice:
    """Which brews a listing shows: one pot's or all, newest first, older than C{before}."""

    pot: str | None = None
    before: int | None = None


def _brew_row(brew: Brew) -> tuple[Any, ...]:
    return (
        brew.id,
        brew.pot,
        brew.beverage,
        brew.variety,
        json.dumps(list(brew.additions)),
        json.dumps(asdict(brew.bean)) if brew.bean else None,
        brew.started,
        brew.brew_end,
        int(brew.milk),
        brew.pour_start,
        brew.pour_stop,
        brew.stopped,
        brew.outcome,
        brew.strength,
    )


def _row_brew(row: Sequence[Any]) -> Brew:
    bean = Bean(**json.loads(row[5])) if row[5] else None
    return Brew(
        id=row[0],
        pot=row[1],
        beverage=row[2],
        variety=row[3],
        additions=tuple(json.loads(row[4])),
        bean=bean,
        started=row[6],
        brew_end=row[7],
        milk=bool(row[8]),
        pour_start=row[9],
        pour_stop=row[10],
        stopped=row[11],
        outcome=row[12],
        strength=row[13],
    )


_FIELDS: Final = tuple(name.strip() for name in _COLUMNS.split(","))


def _record_of(row: Sequence[Any]) -> dict[str, Any]:
    """
    A listed brew: the fields of its L{Brew} (as C{asdict} gives them),
    whether it was resumed, and its sequence number.  Made straight from
    the row, since exports make a million of them.
    """
    record = dict(zip(_FIELDS, row[:14], strict=True))
    record["additions"] = json.loads(row[4])
    record["bean"] = json.loads(row[5]) if row[5] else None
    record["milk"] = bool(row[8])
    record["resumed"] = bool(row[14])
    record["seq"] = row[15]
    return record


def _event_time(brew: Brew) -> float:
    """When the change that produced C{brew}'s outcome happened."""
    if brew.outcome == "stopped" and brew.stopped is not None:
        return brew.stopped
    if brew.outcome == "pouring" and brew.pour_start is not None:
        return brew.pour_start
    if brew.outcome == "ready":
        return brew.pour_stop if brew.pour_stop is not None else brew.brew_end
    return brew.started


def write_brews(cursor: sqlite3.Cursor, brews: Sequence[Brew]) -> None:
    """Store each brew's new state and append its change to the events, in order."""
    for brew in brews:
        cursor.execute(_RECORD, (*_brew_row(brew), brew.pot))
        cursor.execute(
            "INSERT INTO events (brew_id, outcome, at) VALUES (?, ?, ?)",
            (brew.id, brew.outcome, _event_time(brew)),
        )


def _totals(cursor: sqlite3.Cursor, table: str, key: str, pot: str | None) -> dict[str, int]:
    where, args = ("WHERE pot = ?", (pot,)) if pot else ("", ())
    return dict(
        cursor.execute(
            f"SELECT {key}, SUM(count) FROM {table} {where} GROUP BY {key}"
            f" HAVING SUM(count) > 0 ORDER BY {key}",
            args,
        )
    )


def _listing(cursor: sqlite3.Cursor, where: str, args: tuple[Any, ...], limit: int) -> list[Any]:
    """
    Brews newest first: by C{seq}, or within one pot by C{pot_seq} (the
    same order, and the one its index has).
    """
    order = "pot_seq" if where.startswith("pot =") else "seq"
    return cursor.execute(
        f"SELECT {_COLUMNS}, resumed, seq FROM brews WHERE {where} ORDER BY {order} DESC LIMIT ?",
        (*args, limit),
    ).fetchall()


def _slice_rows(
    cursor: sqlite3.Cursor, chosen: Slice, page: int, per_page: int, extra: int = 0
) -> tuple[list[Any], int]:
    """
    The rows of one page, or of the page just older than the cursor, with
    C{extra} rows more (to learn whether there is a next page); and the
    page's number.
    """
    pot, before, limit = chosen.pot, chosen.before, per_page + extra
    if pot is None:
        (top,) = cursor.execute("SELECT IFNULL(MAX(seq), 0) FROM brews").fetchone()
        if before is None:
            return _listing(cursor, "seq <= ?", (top - (page - 1) * per_page,), limit), page
        return _listing(cursor, "seq < ?", (before,), limit), (top - before + 1) // per_page + 1
    (top,) = cursor.execute(
        "SELECT IFNULL(MAX(pot_seq), 0) FROM brews WHERE pot = ?", (pot,)
    ).fetchone()
    if before is None:
        position = top - (page - 1) * per_page
        return _listing(cursor, "pot = ? AND pot_seq <= ?", (pot, position), limit), page
    found = cursor.execute(
        "SELECT pot_seq FROM brews WHERE seq = ? AND pot = ?", (before, pot)
    ).fetchone()
    if found is None:
        return _listing(cursor, "pot = ? AND seq < ?", (pot, before), limit), 1
    (position,) = found
    rows = _listing(cursor, "pot = ? AND pot_seq < ?", (pot, position), limit)
    return rows, (top - position + 1) // per_page + 1


def _page(cursor: sqlite3.Cursor, chosen: Slice, page: int, per_page: int) -> HistoryPage:
    rows, number = _slice_rows(cursor, chosen, page, per_page, extra=1)
    outcomes = _totals(cursor, "brew_totals", "outcome", chosen.pot)
    total = sum(outcomes.values())
    brews = [_record_of(row) for row in rows[:per_page]]
    newest = rows[0][6] if rows and number == 1 else None
    return {
        "page": number,
        "per_page": per_page,
        "total": total,
        "pages": max(1, -(-total // per_page)),
        "outcomes": outcomes,
        "brews": brews,
        "before": chosen.before,
        "next": str(brews[-1]["seq"]) if len(rows) > per_page else None,
        "pots": _totals(cursor, "brew_totals", "pot", None),
        "additions": _totals(cursor, "addition_totals", "addition", chosen.pot),
        "days": _days(cursor, chosen.pot, newest),
    }


def _days(cursor: sqlite3.Cursor, pot: str | None, newest: float | None) -> dict[str, int]:
    """Brews per UTC day over the C{CHART_DAYS} up to the newest brew (on the first page)."""
    if newest is None:
        return {}
    where = "day > date(?, 'unixepoch', ?)" + (" AND pot = ?" if pot else "")
    args: tuple[Any, ...] = (newest, f"-{CHART_DAYS} days", *((pot,) if pot else ()))
    return dict(
        cursor.execute(
            f"SELECT day, SUM(count) FROM day_totals WHERE {where} GROUP BY day"
            " HAVING SUM(count) > 0 ORDER BY day",
            args,
        )
    )


def _batch(
    cursor: sqlite3.Cursor,
    chosen: Slice,
    size: int,
    render: Callable[[list[dict[str, Any]]], T],
) -> tuple[T, int | None]:
    """The next C{size} brews of a slice, rendered; the cursor after them (C{None}: the end)."""
    rows, _ = _slice_rows(cursor, chosen, 1, size)
    records = [_record_of(row) for row in rows]
    return render(records), (records[-1]["seq"] if len(records) == size else None)


def _prune_some(cursor: sqlite3.Cursor, keep: Retention, now: float) -> int:
    """Remove up to C{PRUNE_BATCH} brews that C{keep} no longer keeps; how many."""
    if keep.days is not None:
        condition, args = "started < ?", (now - keep.days * 86400,)
    else:
        kept = cursor.execute(
            "SELECT seq FROM brews ORDER BY seq DESC LIMIT 1 OFFSET ?", (keep.brews,)
        ).fetchone()
        if kept is None:
            return 0
        condition, args = "seq <= ?", (kept[0],)
    chosen = (
        f"SELECT id FROM brews WHERE {condition} AND NOT ({IN_PROGRESS_WHERE})"
        f" ORDER BY seq LIMIT {PRUNE_BATCH}"
    )
    cursor.execute(f"DELETE FROM events WHERE brew_id IN ({chosen})", args)
    cursor.execute(f"DELETE FROM brews WHERE id IN ({chosen})", args)
    return cursor.rowcount


def _reclaim(connection: sqlite3.Connection) -> None:
    """Give the pages freed by pruning back to the file system, and empty the WAL."""
    (mode,) = connection.execute("PRAGMA auto_vacuum").fetchone()
    if mode == 2:
        connection.executescript("PRAGMA incremental_vacuum;")  # stepped to the end
    else:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("VACUUM")
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _take_unfinished(cursor: sqlite3.Cursor) -> list[Brew]:
    """The brews left in progress (found by index), marked as resumed."""
    rows = cursor.execute(
        f"SELECT {_COLUMNS} FROM brews WHERE {IN_PROGRESS_WHERE} ORDER BY seq"
    ).fetchall()
    brews = [_row_brew(row) for row in rows]
    cursor.executemany("UPDATE brews SET resumed = 1 WHERE id = ?", [(b.id,) for b in brews])
    return brews


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
    writing: bool = False


class History:
    """The brew history of one pot server, in C{path}, keeping what C{keep} says."""

    def __init__(self, path: str, keep: Retention = KEEP_ALL) -> None:
        self.path = path
        self.keep = keep
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
        return _opened(self.path, _take_unfinished)

    def record(self, brew: Brew) -> Deferred[None]:
        """
        Store the brew's new state; fires once it is on disk.

        Changes recorded while a transaction is being written wait and go
        together into the next one, in the order they were recorded.
        """
        written: Deferred[None] = Deferred()
        self._writes.waiting.append((brew, written))
        if not self._writes.writing:
            self._write_waiting()
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
        return self._pool.runInteraction(_page, Slice(pot, before), page, per_page)

    def batch(
        self, chosen: Slice, size: int, render: Callable[[list[dict[str, Any]]], T]
    ) -> Deferred[tuple[T, int | None]]:
        """
        The next C{size} brews of C{chosen}, newest first, rendered by
        C{render} on the database thread, and the cursor to continue from
        (C{None} after the oldest).
        """
        return self._pool.runInteraction(_batch, chosen, size, render)

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
            some: int = await self._pool.runInteraction(_prune_some, self.keep, now)
            removed += some
            if some < PRUNE_BATCH:
                break
        if removed:
            await self._pool.runWithConnection(_reclaim)
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
