# -*- test-case-name: tests.test_history_pages -*-
"""
The brew history's SQL, run inside L{htcpcp.storage.History}'s transactions:
brews to rows and back, writing changes, pages and their totals, batches
for the CSV export, pruning, and the brews left in progress.

Every function takes a cursor (or a connection) and blocks; the history
runs them off the reactor thread.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Final, TypeVar

from htcpcp.history_schema import IN_PROGRESS_WHERE
from htcpcp.pot import Bean, Brew
from htcpcp.retention import Retention

__all__ = [
    "CHART_DAYS",
    "COLUMNS",
    "PRUNE_BATCH",
    "HistoryPage",
    "Slice",
    "brew_of_row",
    "prune_some",
    "read_batch",
    "read_page",
    "reclaim",
    "take_unfinished",
    "write_brews",
]

HistoryPage = dict[str, Any]
T = TypeVar("T")

CHART_DAYS: Final = 90
"""Days of per-day totals a page carries (the latest days, up to its newest brew)."""
PRUNE_BATCH: Final = 10_000
"""Brews removed per transaction by retention, so that writes are not held up for long."""

COLUMNS: Final = (
    "id, pot, beverage, variety, additions, bean, started, brew_end, milk,"
    " pour_start, pour_stop, stopped, outcome, strength"
)
_RECORD: Final = (
    f"INSERT INTO brews ({COLUMNS}, seq, pot_seq) VALUES ({', '.join('?' * 14)},"
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


def _row_of(brew: Brew) -> tuple[Any, ...]:
    return (
        brew.id,
        brew.pot,
        brew.beverage,
        brew.variety,
        _additions_json(brew.additions),
        _bean_json(brew.bean) if brew.bean else None,
        brew.started,
        brew.brew_end,
        int(brew.milk),
        brew.pour_start,
        brew.pour_stop,
        brew.stopped,
        brew.outcome,
        brew.strength,
    )


@lru_cache(maxsize=256)
def _additions_json(additions: tuple[str, ...]) -> str:
    """A brew's additions as stored (the same few lists over and over)."""
    return json.dumps(list(additions))


@lru_cache(maxsize=64)
def _bean_json(bean: Bean) -> str:
    """A bean as stored."""
    return json.dumps(asdict(bean))


def brew_of_row(row: Sequence[Any]) -> Brew:
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


_FIELDS: Final = tuple(name.strip() for name in COLUMNS.split(","))


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
    """
    Store each brew's new state and append its change to the events, in
    order (all the states first, then all the events: the same rows).
    """
    cursor.executemany(_RECORD, [(*_row_of(brew), brew.pot) for brew in brews])
    cursor.executemany(
        "INSERT INTO events (brew_id, outcome, at) VALUES (?, ?, ?)",
        [(brew.id, brew.outcome, _event_time(brew)) for brew in brews],
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
        f"SELECT {COLUMNS}, resumed, seq FROM brews WHERE {where} ORDER BY {order} DESC LIMIT ?",
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


def read_page(cursor: sqlite3.Cursor, chosen: Slice, page: int, per_page: int) -> HistoryPage:
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


def read_batch(
    cursor: sqlite3.Cursor,
    chosen: Slice,
    size: int,
    render: Callable[[list[dict[str, Any]]], T],
) -> tuple[T, int | None]:
    """The next C{size} brews of a slice, rendered; the cursor after them (C{None}: the end)."""
    rows, _ = _slice_rows(cursor, chosen, 1, size)
    records = [_record_of(row) for row in rows]
    return render(records), (records[-1]["seq"] if len(records) == size else None)


def prune_some(cursor: sqlite3.Cursor, keep: Retention, now: float) -> int:
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


def reclaim(connection: sqlite3.Connection) -> None:
    """Give the pages freed by pruning back to the file system, and empty the WAL."""
    (mode,) = connection.execute("PRAGMA auto_vacuum").fetchone()
    if mode == 2:
        connection.executescript("PRAGMA incremental_vacuum;")  # stepped to the end
    else:
        connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("VACUUM")
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def take_unfinished(cursor: sqlite3.Cursor) -> list[Brew]:
    """The brews left in progress (found by index), marked as resumed."""
    rows = cursor.execute(
        f"SELECT {COLUMNS} FROM brews WHERE {IN_PROGRESS_WHERE} ORDER BY seq"
    ).fetchall()
    brews = [brew_of_row(row) for row in rows]
    cursor.executemany("UPDATE brews SET resumed = 1 WHERE id = ?", [(b.id,) for b in brews])
    return brews
