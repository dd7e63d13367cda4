# -*- test-case-name: tests.test_storage -*-
"""
The brew history's SQLite schema: migrations, connection settings, and the
one-line reasons a database file cannot be used.

The schema version is C{PRAGMA user_version}, the number of L{MIGRATIONS}
applied; migrations only go forward.  Since version 3 every brew has a
sequence number (C{seq}, and C{pot_seq} within its pot) in the order it was
first recorded, so a page of the log is an index range whatever the size of
the history, and summary tables kept by triggers hold the counts per pot and
outcome, per pot and addition, and per pot and UTC day, so totals never
scan the brews.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

__all__ = [
    "IN_PROGRESS_WHERE",
    "MIGRATIONS",
    "HistoryUnusable",
    "configure",
    "migrate",
    "unusable",
]

_BUMP_TOTALS: Final = """
    INSERT INTO brew_totals (pot, outcome, count) VALUES ({row}.pot, {row}.outcome, {sign}1)
        ON CONFLICT (pot, outcome) DO UPDATE SET count = count {sign} 1
"""
_BUMP_ADDITIONS: Final = """
    INSERT INTO addition_totals (pot, addition, count)
        SELECT {row}.pot, value, {sign}COUNT(*) FROM json_each({row}.additions)
        WHERE true GROUP BY value
        ON CONFLICT (pot, addition) DO UPDATE SET count = count + excluded.count
"""
_BUMP_DAYS: Final = """
    INSERT INTO day_totals (pot, day, count)
        VALUES ({row}.pot, date({row}.started, 'unixepoch'), {sign}1)
        ON CONFLICT (pot, day) DO UPDATE SET count = count {sign} 1
"""


def _bump(template: str, row: str, sign: str) -> str:
    return template.format(row=row, sign=sign)


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
    f"""
    ALTER TABLE brews ADD COLUMN seq INTEGER;
    ALTER TABLE brews ADD COLUMN pot_seq INTEGER;
    UPDATE brews SET seq = numbered.seq, pot_seq = numbered.pot_seq FROM (
        SELECT id,
            ROW_NUMBER() OVER (ORDER BY started, id) AS seq,
            ROW_NUMBER() OVER (PARTITION BY pot ORDER BY started, id) AS pot_seq
        FROM brews
    ) AS numbered WHERE brews.id = numbered.id;
    DROP INDEX brews_started;
    CREATE UNIQUE INDEX brews_seq ON brews (seq);
    CREATE UNIQUE INDEX brews_pot_seq ON brews (pot, pot_seq);
    CREATE INDEX brews_in_progress ON brews (seq) WHERE outcome IN ('brewing', 'pouring');
    CREATE INDEX brews_started ON brews (started);
    CREATE INDEX events_brew ON events (brew_id);
    CREATE TABLE brew_totals (
        pot TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (pot, outcome)
    ) WITHOUT ROWID;
    CREATE TABLE addition_totals (
        pot TEXT NOT NULL, addition TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (pot, addition)
    ) WITHOUT ROWID;
    CREATE TABLE day_totals (
        pot TEXT NOT NULL, day TEXT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (pot, day)
    ) WITHOUT ROWID;
    INSERT INTO brew_totals SELECT pot, outcome, COUNT(*) FROM brews GROUP BY pot, outcome;
    INSERT INTO addition_totals
        SELECT pot, value, COUNT(*) FROM brews, json_each(brews.additions) GROUP BY pot, value;
    INSERT INTO day_totals
        SELECT pot, date(started, 'unixepoch'), COUNT(*) FROM brews
        GROUP BY pot, date(started, 'unixepoch');
    CREATE TRIGGER brews_counted AFTER INSERT ON brews BEGIN
        {_bump(_BUMP_TOTALS, "NEW", "+")};
        {_bump(_BUMP_ADDITIONS, "NEW", "")};
        {_bump(_BUMP_DAYS, "NEW", "+")};
    END;
    CREATE TRIGGER brews_recounted AFTER UPDATE OF outcome ON brews
        WHEN OLD.outcome IS NOT NEW.outcome BEGIN
        {_bump(_BUMP_TOTALS, "OLD", "-")};
        {_bump(_BUMP_TOTALS, "NEW", "+")};
    END;
    CREATE TRIGGER brews_uncounted AFTER DELETE ON brews BEGIN
        {_bump(_BUMP_TOTALS, "OLD", "-")};
        {_bump(_BUMP_ADDITIONS, "OLD", "-")};
        {_bump(_BUMP_DAYS, "OLD", "-")};
    END;
    """,
)
"""Schema migrations; C{user_version} is the number applied."""

IN_PROGRESS_WHERE: Final = "outcome IN ('brewing', 'pouring')"
"""The in-progress condition, written as the partial index C{brews_in_progress} has it."""


class HistoryUnusable(Exception):
    """The history file cannot be used; the message says why and what to do, in one line."""


def configure(connection: sqlite3.Connection) -> None:
    """
    Settings of every connection: WAL, every commit synced to disk, foreign keys.

    A new database is made with incremental vacuum, so that space freed by
    retention can be given back to the file system without rewriting it.
    """
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA busy_timeout=5000")


def _statements(script: str) -> list[str]:
    """A migration's statements; a trigger's body is kept whole."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece
        if current.strip() and (
            "CREATE TRIGGER" not in current or current.rstrip().endswith("END")
        ):
            statements.append(current)
            current = ""
        elif current.strip():
            current += ";"
    return statements


def migrate(cursor: sqlite3.Cursor) -> int:
    """Apply the migrations a database lacks (in the caller's transaction); the version now."""
    (version,) = cursor.execute("PRAGMA user_version").fetchone()
    if version > len(MIGRATIONS):
        raise HistoryUnusable(
            f"schema version {version} is newer than this htcpcp knows"
            f" ({len(MIGRATIONS)}): run the htcpcp that wrote it, or a newer one"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in _statements(script):
            cursor.execute(statement)
        cursor.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)


def unusable(path: str, error: sqlite3.Error | HistoryUnusable) -> HistoryUnusable:
    """A one-line explanation of why the history file at C{path} cannot be used."""
    text = str(error)
    lowered = text.lower()
    if isinstance(error, HistoryUnusable):
        reason = text
    elif "not a database" in lowered:
        reason = (
            "is not an SQLite database (damaged, or another kind of file): move it aside to"
            " start with an empty history, or put back a backup"
        )
    elif "malformed" in lowered or "corrupt" in lowered:
        reason = (
            f"is damaged ({text}): move it aside to start with an empty history, or rescue"
            f" what it holds with: sqlite3 {path} .recover"
        )
    elif "locked" in lowered or "busy" in lowered:
        reason = (
            "is locked by another process: stop the other pot server using this data"
            " directory, or give this one another --data-dir"
        )
    elif "readonly" in lowered or "read-only" in lowered:
        reason = "is read-only: let the user running the pot server write it and its directory"
    else:
        reason = (
            f"cannot be opened ({text}): check that it and its directory exist and that the"
            " user running the pot server may read and write them"
        )
    return HistoryUnusable(f"history {path} {reason}")
