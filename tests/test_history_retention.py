"""Tests for history-keep: parsing, pruning by days and by count, space given back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase, TestCase

from htcpcp.config import ConfigError, load_config
from htcpcp.history_schema import migrate
from htcpcp.retention import KEEP_ALL, Retention, parse_retention
from htcpcp.storage import PRUNE_BATCH, History

from .test_history_pages import brew

ROOT = Path(__file__).resolve().parent.parent


class ParseTests(SynchronousTestCase):
    def test_spellings(self) -> None:
        self.assertEqual(parse_retention("all"), KEEP_ALL)
        self.assertEqual(parse_retention(" 30 days "), Retention(days=30))
        self.assertEqual(parse_retention("1 day"), Retention(days=1))
        self.assertEqual(parse_retention("7d"), Retention(days=7))
        self.assertEqual(parse_retention("0.5 days"), Retention(days=0.5))
        self.assertEqual(parse_retention("100000 brews"), Retention(brews=100000))
        self.assertEqual(parse_retention("1"), Retention(brews=1))
        self.assertEqual(parse_retention("36500 days"), Retention(days=36500))

    def test_refusals(self) -> None:
        for text in (
            "",
            "0",
            "0 days",
            "36501 days",
            "1.5 brews",
            "-3",
            "ten",
            "9" * 5000,
            "3 weeks",
        ):
            self.assertRaises(ValueError, parse_retention, text)

    def test_the_most_brews_kept_is_ten_to_the_twelfth(self) -> None:
        self.assertEqual(parse_retention("1000000000000 brews"), Retention(brews=10**12))
        self.assertRaises(ValueError, parse_retention, "1000000000001 brews")

    def test_each_rule_is_described_as_a_configuration_file_writes_it(self) -> None:
        for rule, words in (
            (Retention(days=30), "30 days"),
            (Retention(days=0.5), "0.5 days"),
            (Retention(brews=100000), "100000 brews"),
            (KEEP_ALL, "all"),
        ):
            self.assertEqual(rule.describe(), words)
            self.assertEqual(parse_retention(words), rule)

    def test_configuration_file(self) -> None:
        self.assertEqual(load_config("[server]\n").history_keep, KEEP_ALL)
        config = load_config("[server]\nhistory-keep = 90 days\n")
        self.assertEqual(config.history_keep, Retention(days=90))
        error = self.assertRaises(ConfigError, load_config, "[server]\nhistory-keep = lots\n")
        self.assertIn("history-keep", str(error))


class PruneTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())

    def open(self, keep: Retention) -> History:
        history = History(self.path, keep)
        self.addCleanup(history.close)
        history.prepare()
        return history

    def ids(self) -> list[str]:
        with sqlite3.connect(self.path) as connection:
            return [row[0] for row in connection.execute("SELECT id FROM brews ORDER BY seq")]

    async def test_by_count_keeps_the_newest_and_every_brew_in_progress(self) -> None:
        history = self.open(Retention(brews=3))
        await history.record(brew(1, "brewing"))
        for number in range(2, 8):
            await history.record(brew(number))
        self.assertEqual(await history.prune(0.0), 3)
        self.assertEqual(self.ids(), ["brew-0001", "brew-0005", "brew-0006", "brew-0007"])
        page = await history.page(None, 1, 10)
        self.assertEqual((page["total"], page["outcomes"]), (4, {"brewing": 1, "ready": 3}))
        with sqlite3.connect(self.path) as connection:
            events = connection.execute("SELECT DISTINCT brew_id FROM events").fetchall()
        self.assertEqual(len(events), 4)

    async def test_by_days(self) -> None:
        history = self.open(Retention(days=1))
        for number in range(1, 6):
            await history.record(brew(number * 12))
        now = brew(60).started
        self.assertEqual(await history.prune(now), 2)
        self.assertEqual(self.ids(), ["brew-0036", "brew-0048", "brew-0060"])

    async def test_keeping_all_removes_nothing(self) -> None:
        history = self.open(KEEP_ALL)
        await history.record(brew(1))
        self.assertEqual(await history.prune(1e12), 0)
        self.assertEqual(self.ids(), ["brew-0001"])

    async def test_by_count_with_fewer_brews_than_kept(self) -> None:
        history = self.open(Retention(brews=5))
        for number in range(1, 4):
            await history.record(brew(number))
        self.assertEqual(await history.prune(0.0), 0)
        self.assertEqual(self.ids(), ["brew-0001", "brew-0002", "brew-0003"])

    async def test_a_history_made_without_incremental_vacuum_gains_it(self) -> None:
        with sqlite3.connect(self.path) as connection:
            cursor = connection.cursor()
            migrate(cursor)
            self.fill(connection, 5000)
        connection.close()
        history = self.open(Retention(brews=1))
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("PRAGMA auto_vacuum").fetchone()[0], 0)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        before = os.path.getsize(self.path)
        self.assertEqual(await history.prune(0.0), 4999)
        self.assertLess(os.path.getsize(self.path), before / 4)
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("PRAGMA auto_vacuum").fetchone()[0], 2)
        connection.close()

    def fill(self, connection: sqlite3.Connection, count: int) -> None:
        """Store C{count} ready brews, numbered from 1, straight into the table."""
        connection.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO brews (id, pot, beverage, additions, started, brew_end, milk,"
            " outcome, strength, seq, pot_seq)"
            " SELECT printf('b%d', i), 'ducky', 'coffee', '[\"Cream\"]', i, i, 0, 'ready', 1,"
            " i, i FROM n",
            (count,),
        )

    async def test_space_is_given_back_in_batches(self) -> None:
        history = self.open(Retention(brews=1))
        with sqlite3.connect(self.path) as connection:
            self.fill(connection, PRUNE_BATCH + 500)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = os.path.getsize(self.path)
        self.assertEqual(await history.prune(0.0), PRUNE_BATCH + 499)
        self.assertLess(os.path.getsize(self.path), before / 4)
        self.assertEqual(os.path.getsize(self.path + "-wal"), 0)


class StartUpTests(SynchronousTestCase):
    def twistd(self, data: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "from twisted.scripts.twistd import run; run()",
                "-n",
                "--pidfile=",
                "htcpcp",
                "--pot",
                "tcp:0:interface=127.0.0.1",
                "--data-dir",
                str(data),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_a_corrupt_history_stops_twistd_with_one_line(self) -> None:
        data = Path(self.mktemp()).absolute()
        data.mkdir()
        (data / "history.sqlite3").write_bytes(b"not a database at all\n" * 50)
        done = self.twistd(data)
        self.assertNotEqual(done.returncode, 0)
        self.assertNotIn("Traceback", done.stdout + done.stderr)
        lines = (done.stdout + done.stderr).strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(str(data / "history.sqlite3"), lines[0])
        self.assertIn("not an SQLite database", lines[0])

    def test_an_unreadable_history_stops_twistd_with_one_line(self) -> None:
        data = Path(self.mktemp()).absolute()
        (data / "history.sqlite3").mkdir(parents=True)
        done = self.twistd(data)
        self.assertNotEqual(done.returncode, 0)
        lines = (done.stdout + done.stderr).strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("cannot be opened", lines[0])
