"""Tests for the SQLite brew history."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from twisted.trial.unittest import TestCase

from htcpcp import storage
from htcpcp.config import BEANS
from htcpcp.history_schema import MIGRATIONS, configure, migrate
from htcpcp.pot import Brew
from htcpcp.storage import History


def a_brew(number: int, outcome: str = "ready") -> Brew:
    return Brew(
        id=f"brew-{number}",
        pot="ducky",
        beverage="coffee",
        variety=None,
        additions=("Cream",),
        bean=BEANS[number % 10],
        started=1000.0 + number,
        brew_end=1030.0 + number,
        milk=True,
        outcome=outcome,
    )


class HistoryTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(self.path)
        self.addCleanup(self.history.close)

    def test_schema_version_and_wal(self) -> None:
        self.assertEqual(self.history.prepare(), [])
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(
                connection.execute("PRAGMA user_version").fetchone()[0], len(MIGRATIONS)
            )
            self.assertEqual(connection.execute("PRAGMA journal_mode").fetchone()[0], "wal")

    def test_migrates_an_older_database(self) -> None:
        with sqlite3.connect(self.path) as connection:
            connection.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
            connection.execute(
                "INSERT INTO brews VALUES ('old', 'ducky', 'coffee', NULL, '[]', NULL,"
                " 1.0, 31.0, 0, NULL, NULL, NULL, 'brewing', 1.0)"
            )
        [unfinished] = self.history.prepare()
        self.assertEqual(unfinished.id, "old")
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("SELECT resumed FROM brews").fetchone()[0], 1)

    async def test_record_and_page(self) -> None:
        self.history.prepare()
        for number in range(5):
            await self.history.record(a_brew(number, "brewing"))
            await self.history.record(a_brew(number, "stopped" if number % 2 else "ready"))
        page = await self.history.page(None, 1, 2)
        self.assertEqual((page["total"], page["pages"]), (5, 3))
        self.assertEqual([b["id"] for b in page["brews"]], ["brew-4", "brew-3"])
        self.assertEqual(page["outcomes"], {"ready": 3, "stopped": 2})
        self.assertEqual(page["brews"][0]["bean"]["name"], BEANS[4].name)
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("SELECT COUNT(*) FROM events").fetchone()[0], 10)

    async def test_unfinished_brews_are_returned_at_start(self) -> None:
        self.history.prepare()
        await self.history.record(a_brew(1, "brewing"))
        await self.history.record(a_brew(2, "pouring"))
        await self.history.record(a_brew(3, "ready"))
        self.history.close()
        again = History(self.path)
        self.addCleanup(again.close)
        self.assertEqual([b.id for b in again.prepare()], ["brew-1", "brew-2"])

    async def test_writes_happen_off_the_reactor_thread(self) -> None:
        self.history.prepare()
        threads = []
        original = storage.write_brews

        def spy(cursor: sqlite3.Cursor, brews: list[Brew]) -> None:
            threads.append(threading.get_ident())
            original(cursor, brews)

        self.patch(storage, "write_brews", spy)
        await self.history.record(a_brew(1))
        self.assertEqual(len(threads), 1)
        self.assertNotEqual(threads[0], threading.get_ident())


class ConnectionSettingsTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())

    def test_a_new_history_gives_space_back_incrementally(self) -> None:
        history = History(self.path)
        self.addCleanup(history.close)
        history.prepare()
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("PRAGMA auto_vacuum").fetchone()[0], 2)

    def test_events_must_name_a_stored_brew(self) -> None:
        connection = sqlite3.connect(self.path)
        self.addCleanup(connection.close)
        configure(connection)
        migrate(connection.cursor())
        self.assertRaises(
            sqlite3.IntegrityError,
            connection.execute,
            "INSERT INTO events (brew_id, outcome, at) VALUES ('nobody', 'ready', 1.0)",
        )

    def test_migrating_answers_schema_version_3(self) -> None:
        connection = sqlite3.connect(self.path)
        self.addCleanup(connection.close)
        self.assertEqual(migrate(connection.cursor()), 3)
        self.assertEqual(migrate(connection.cursor()), 3)
