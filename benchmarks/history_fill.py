"""Make a pot server's brew history of N brews, with the project's own schema and triggers.

The schema comes from ``History.prepare`` (so the file is exactly what a pot server makes and
would migrate), then one SQL statement inserts N finished brews a minute apart, ending now:
pots ``ducky`` (coffee, three in four) and ``tea``, a handful of additions, beans, mostly ready
and some stopped. The schema's triggers keep the summary tables as they would for real brews.

Usage: ``python benchmarks/history_fill.py PATH COUNT``
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htcpcp.history_schema import configure
from htcpcp.storage import History

SPACING = 60.0
"""Seconds between the generated brews' starts."""

_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO brews (id, pot, beverage, variety, additions, bean, started, brew_end, milk,
                   pour_start, pour_stop, stopped, outcome, strength, seq, pot_seq)
SELECT printf('fill%010d', i),
       CASE WHEN i % 4 THEN 'ducky' ELSE 'tea' END,
       CASE WHEN i % 4 THEN 'coffee' ELSE 'tea' END,
       CASE WHEN i % 4 THEN NULL ELSE 'darjeeling' END,
       CASE i % 5 WHEN 0 THEN '[]' WHEN 1 THEN '["Cream"]' WHEN 2 THEN '["Whisky", "Sugar"]'
                  WHEN 3 THEN '["Oat milk"]' ELSE '["Vanilla"]' END,
       CASE WHEN i % 4 THEN json_object('name', 'Huila', 'profile', 'caramel, red apple',
            'origin', 'Colombia', 'type', 'Arabica', 'strength', 3, 'roast', 'medium')
            ELSE NULL END,
       :start + i * :spacing, :start + i * :spacing + 30, i % 5 IN (1, 3),
       CASE WHEN i % 5 IN (1, 3) THEN :start + i * :spacing + 30 END,
       CASE WHEN i % 5 IN (1, 3) THEN :start + i * :spacing + 35 END,
       CASE WHEN i % 7 = 0 THEN :start + i * :spacing + 12 END,
       CASE WHEN i % 7 = 0 THEN 'stopped' ELSE 'ready' END,
       CASE WHEN i % 7 = 0 THEN 0.4 ELSE 1.0 END,
       i,
       CASE WHEN i % 4 THEN i - i / 4 ELSE i / 4 END
FROM n
"""


def fill(path: Path, count: int) -> None:
    """Make ``path`` a brew history of ``count`` finished brews (it must not exist)."""
    history = History(str(path))
    history.prepare()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        configure(connection)
        with connection:
            connection.execute(
                _FILL,
                {"count": count, "start": time.time() - count * SPACING, "spacing": SPACING},
            )
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    """Fill the file named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    if args.path.exists():
        sys.exit(f"history_fill.py: {args.path} exists")
    started = time.monotonic()
    fill(args.path, args.count)
    print(f"{args.count} brews in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
