"""
Durable brew history in SQLite, written off the reactor thread.

One connection through L{twisted.enterprise.adbapi} (so writes are
serialised and never block the reactor), WAL journal, and the schema
version in C{PRAGMA user_version} with forward-only migrations.  Every
change of a brew is one transaction: the brew's row is updated and the
change appended to C{events}.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Final

from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred

from htcpcp.pot import Bean, Brew

__all__ = ["History", "HistoryPage"]

MIGRATIONS: Final[Sequence[str]] = (
    """
    CREATE TABLE brews (
        id TEXT PRIMARY KEY,
        pot TEXT NOT NULL,
        beverage TEXT NOT NULL,
        variety TEXT,
        additions TEXT NOT NULL,
        bean TEXT,
        started REAL NOT NULL,
        brew_end REAL NOT NULL,
        milk INTEGER NOT NULL,
        pour_start REAL,
        pour_stop REAL,
        stopped REAL,
        outcome TEXT NOT NULL,
        strength REAL NOT NULL
    );
    CREATE INDEX brews_started ON brews (started);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        brew_id TEXT NOT NULL REFERENCES brews (id),
        outcome TEXT NOT NULL,
        at REAL NOT NULL
    );
    """,
    """
    ALTER TABLE brews ADD COLUMN resumed INTEGER NOT NULL DEFAULT 0;
    """,
)
"""Schema migrations; C{user_version} is the number applied."""

IN_PROGRESS: Final = ("brewing", "pouring")

HistoryPage = dict[str, Any]

_COLUMNS: Final = (
    "id, pot, beverage, variety, additions, bean, started, brew_end, milk,"
    " pour_start, pour_stop, stopped, outcome, strength"
)


def _configure(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")


def _migrate(cursor: sqlite3.Cursor) -> int:
    (version,) = cursor.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in filter(str.strip, script.split(";")):
            cursor.execute(statement)
        cursor.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)


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


def _event_time(brew: Brew) -> float:
    """When the change that produced C{brew}'s outcome happened."""
    if brew.outcome == "stopped" and brew.stopped is not None:
        return brew.stopped
    if brew.outcome == "pouring" and brew.pour_start is not None:
        return brew.pour_start
    if brew.outcome == "ready":
        return brew.pour_stop if brew.pour_stop is not None else brew.brew_end
    return brew.started


class History:
    """The brew history of one pot server, in C{path}."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._pool = adbapi.ConnectionPool(
            "sqlite3",
            path,
            check_same_thread=False,
            cp_min=1,
            cp_max=1,
            cp_openfun=_configure,
            cp_noisy=False,
        )
        self._closed = False

    def prepare(self) -> list[Brew]:
        """
        Bring the schema up to date and take the brews left in progress.

        This blocks: call it once at start-up, before requests are served.
        The brews returned are marked as resumed; the caller resumes them.
        """
        with contextlib.closing(sqlite3.connect(self.path)) as connection:
            _configure(connection)
            with connection:
                cursor = connection.cursor()
                _migrate(cursor)
                brews = self._unfinished(cursor)
                cursor.executemany(
                    "UPDATE brews SET resumed = 1 WHERE id = ?", [(b.id,) for b in brews]
                )
        return brews

    def record(self, brew: Brew) -> Deferred[None]:
        """Store the brew's new state and append the change to its events."""
        return self._pool.runInteraction(self._record, brew)

    @staticmethod
    def _record(cursor: sqlite3.Cursor, brew: Brew) -> None:
        placeholders = ", ".join("?" * 14)
        cursor.execute(
            f"INSERT INTO brews ({_COLUMNS}) VALUES ({placeholders})"
            " ON CONFLICT (id) DO UPDATE SET pour_start = excluded.pour_start,"
            " pour_stop = excluded.pour_stop, stopped = excluded.stopped,"
            " outcome = excluded.outcome, strength = excluded.strength",
            _brew_row(brew),
        )
        cursor.execute(
            "INSERT INTO events (brew_id, outcome, at) VALUES (?, ?, ?)",
            (brew.id, brew.outcome, _event_time(brew)),
        )

    @staticmethod
    def _unfinished(cursor: sqlite3.Cursor) -> list[Brew]:
        rows = cursor.execute(
            f"SELECT {_COLUMNS} FROM brews WHERE outcome IN (?, ?) ORDER BY started",
            IN_PROGRESS,
        ).fetchall()
        return [_row_brew(row) for row in rows]

    def page(self, pot: str | None, page: int, per_page: int) -> Deferred[HistoryPage]:
        """One page of brews, newest first, with totals."""
        return self._pool.runInteraction(self._page, pot, page, per_page)

    @staticmethod
    def _page(cursor: sqlite3.Cursor, pot: str | None, page: int, per_page: int) -> HistoryPage:
        where, args = ("WHERE pot = ?", (pot,)) if pot else ("", ())
        (total,) = cursor.execute(f"SELECT COUNT(*) FROM brews {where}", args).fetchone()
        rows = cursor.execute(
            f"SELECT {_COLUMNS}, resumed FROM brews {where}"
            " ORDER BY started DESC, id LIMIT ? OFFSET ?",
            (*args, per_page, (page - 1) * per_page),
        ).fetchall()
        outcomes = dict(
            cursor.execute(f"SELECT outcome, COUNT(*) FROM brews {where} GROUP BY outcome", args)
        )
        brews = []
        for row in rows:
            record = asdict(_row_brew(row[:-1]))
            record["resumed"] = bool(row[-1])
            brews.append(record)
        return {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": max(1, -(-total // per_page)),
            "outcomes": outcomes,
            "brews": brews,
        }

    def close(self) -> None:
        """Finish pending writes and stop the database thread (once)."""
        if not self._closed:
            self._closed = True
            self._pool.close()
