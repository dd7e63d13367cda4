"""Tests for the history's pages, cursors, totals, grouped writes and unusable files."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import TestCase

from htcpcp import storage
from htcpcp.config import BEANS
from htcpcp.history_schema import MIGRATIONS, unusable
from htcpcp.pot import Brew
from htcpcp.storage import History, HistoryUnusable, verify


def brew(number: int, outcome: str = "ready", pot: str = "ducky", **more: object) -> Brew:
    made = Brew(
        id=f"brew-{number:04d}",
        pot=pot,
        beverage="coffee",
        variety=None,
        additions=("Cream",),
        bean=BEANS[0],
        started=1_700_000_000.0 + number * 3600,
        brew_end=1_700_000_030.0 + number * 3600,
        milk=False,
        outcome=outcome,
    )
    return replace(made, **more)  # type: ignore[arg-type]


class HistoryCase(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(self.path)
        self.addCleanup(self.history.close)
        self.history.prepare()

    async def fill(self, count: int, **more: object) -> None:
        for number in range(1, count + 1):
            await self.history.record(brew(number, **more))

    def plan(self, sql: str, *args: object) -> str:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
        return " | ".join(row[-1] for row in rows)


class PageTests(HistoryCase):
    async def test_cursor_pages_follow_on_and_stay_put_under_inserts(self) -> None:
        await self.fill(7)
        first = await self.history.page(None, 1, 3)
        self.assertEqual([b["id"] for b in first["brews"]], ["brew-0007", "brew-0006", "brew-0005"])
        self.assertEqual(first["next"], "5")
        for number in (8, 9):
            await self.history.record(brew(number))
        after = await self.history.page(None, 1, 3, before=int(first["next"]))
        self.assertEqual([b["id"] for b in after["brews"]], ["brew-0004", "brew-0003", "brew-0002"])
        self.assertEqual(after["page"], 2)
        shifted = await self.history.page(None, 2, 3)
        self.assertEqual(
            [b["id"] for b in shifted["brews"]], ["brew-0006", "brew-0005", "brew-0004"]
        )
        last = await self.history.page(None, 1, 3, before=2)
        self.assertEqual(([b["id"] for b in last["brews"]], last["next"]), (["brew-0001"], None))

    async def test_page_numbers_reach_the_oldest_brews(self) -> None:
        await self.fill(5)
        page = await self.history.page(None, 3, 2)
        self.assertEqual([b["id"] for b in page["brews"]], ["brew-0001"])
        self.assertEqual((page["total"], page["pages"], page["next"]), (5, 3, None))
        self.assertEqual((await self.history.page(None, 4, 2))["brews"], [])

    async def test_one_pots_pages_and_cursor(self) -> None:
        for number in range(1, 9):
            await self.history.record(brew(number, pot="tea" if number % 2 else "ducky"))
        page = await self.history.page("tea", 1, 2)
        self.assertEqual([b["id"] for b in page["brews"]], ["brew-0007", "brew-0005"])
        self.assertEqual((page["total"], page["pages"]), (4, 2))
        following = await self.history.page("tea", 1, 2, before=int(page["next"]))
        self.assertEqual([b["id"] for b in following["brews"]], ["brew-0003", "brew-0001"])
        self.assertEqual((following["page"], following["next"]), (2, None))
        second = await self.history.page("tea", 2, 2)
        self.assertEqual(second["brews"], following["brews"])

    async def test_totals_follow_outcomes_pots_additions_and_days(self) -> None:
        await self.history.record(brew(1, "brewing", additions=("Cream", "Cream", "Rum")))
        await self.history.record(brew(2, "brewing", pot="tea", additions=()))
        await self.history.record(brew(1, "stopped", additions=("Cream", "Cream", "Rum")))
        page = await self.history.page(None, 1, 10)
        self.assertEqual(page["outcomes"], {"brewing": 1, "stopped": 1})
        self.assertEqual(page["pots"], {"ducky": 1, "tea": 1})
        self.assertEqual(page["additions"], {"Cream": 2, "Rum": 1})
        self.assertEqual(page["days"], {"2023-11-14": 1, "2023-11-15": 1})
        ducky = await self.history.page("ducky", 1, 10)
        self.assertEqual((ducky["total"], ducky["outcomes"]), (1, {"stopped": 1}))

    async def test_days_cover_the_ninety_up_to_the_newest(self) -> None:
        await self.history.record(brew(0))
        await self.history.record(brew(24 * 89))
        await self.history.record(brew(24 * 90))
        page = await self.history.page(None, 1, 10)
        self.assertEqual(page["days"], {"2024-02-11": 1, "2024-02-12": 1})

    def test_listing_totals_and_start_up_use_indexes(self) -> None:
        listing = self.plan("SELECT id FROM brews WHERE seq <= ? ORDER BY seq DESC LIMIT 5", 9)
        self.assertIn("USING INDEX brews_seq", listing)
        pot = self.plan(
            "SELECT id FROM brews WHERE pot = ? AND pot_seq <= ? ORDER BY pot_seq DESC LIMIT 5",
            "tea",
            9,
        )
        self.assertIn("USING INDEX brews_pot_seq", pot)
        unfinished = self.plan(
            "SELECT id FROM brews WHERE outcome IN ('brewing', 'pouring') ORDER BY seq"
        )
        self.assertIn("USING INDEX brews_in_progress", unfinished)


class MigrationTests(TestCase):
    def test_version_2_gains_sequence_numbers_and_totals(self) -> None:
        path = str(Path(self.mktemp() + ".sqlite3").absolute())
        with sqlite3.connect(path) as connection:
            connection.executescript(MIGRATIONS[0] + MIGRATIONS[1] + "PRAGMA user_version = 2;")
            for name, pot, started, outcome in (
                ("late", "ducky", 30.0, "ready"),
                ("early", "tea", 10.0, "stopped"),
                ("middle", "ducky", 20.0, "brewing"),
            ):
                connection.execute(
                    "INSERT INTO brews VALUES (?, ?, 'coffee', NULL, '[\"Rum\"]', NULL,"
                    " ?, 60.0, 0, NULL, NULL, NULL, ?, 1.0, 0)",
                    (name, pot, started, outcome),
                )
        history = History(path)
        self.addCleanup(history.close)
        [unfinished] = history.prepare()
        self.assertEqual(unfinished.id, "middle")
        with sqlite3.connect(path) as connection:
            numbered = connection.execute(
                "SELECT id, seq, pot_seq FROM brews ORDER BY seq"
            ).fetchall()
            totals = connection.execute(
                "SELECT * FROM brew_totals ORDER BY pot, outcome"
            ).fetchall()
            additions = connection.execute("SELECT * FROM addition_totals ORDER BY pot").fetchall()
        self.assertEqual(numbered, [("early", 1, 1), ("middle", 2, 1), ("late", 3, 2)])
        self.assertEqual(
            totals, [("ducky", "brewing", 1), ("ducky", "ready", 1), ("tea", "stopped", 1)]
        )
        self.assertEqual(additions, [("ducky", "Rum", 2), ("tea", "Rum", 1)])


class GroupedWriteTests(HistoryCase):
    def on_a_clock(self) -> tuple[History, Clock]:
        """A history whose turns of the reactor are a L{Clock}'s, closed when the test ends."""
        clock = Clock()
        history = History(self.path, clock=clock)
        self.addCleanup(history.close)
        return history, clock

    def spy(self) -> list[list[str]]:
        batches: list[list[str]] = []
        original = storage.write_brews

        def spy(cursor: sqlite3.Cursor, brews: list[Brew]) -> None:
            batches.append([b.id for b in brews])
            original(cursor, brews)

        self.patch(storage, "write_brews", spy)
        return batches

    async def test_changes_recorded_in_one_turn_share_one_transaction(self) -> None:
        batches = self.spy()
        await gatherResults([self.history.record(brew(n)) for n in range(1, 6)])
        self.assertEqual(
            batches, [["brew-0001", "brew-0002", "brew-0003", "brew-0004", "brew-0005"]]
        )
        page = await self.history.page(None, 1, 10)
        self.assertEqual(page["total"], 5)

    async def test_changes_recorded_while_one_is_written_go_together_into_the_next(
        self,
    ) -> None:
        history, clock = self.on_a_clock()
        batches = self.spy()
        first = history.record(brew(1))
        self.assertEqual(clock.getDelayedCalls()[0].getTime(), clock.seconds())
        clock.advance(0)  # the turn is over: the first transaction begins
        later = [history.record(brew(n)) for n in range(2, 5)]
        self.assertEqual(clock.getDelayedCalls(), [])  # they wait for it, not for a turn
        await gatherResults([first, *later])
        self.assertEqual(batches, [["brew-0001"], ["brew-0002", "brew-0003", "brew-0004"]])

    async def test_changes_recorded_during_a_following_transaction_wait_for_it_too(
        self,
    ) -> None:
        history, clock = self.on_a_clock()
        batches = self.spy()
        release = threading.Event()
        self.addCleanup(release.set)
        spied = storage.write_brews

        def held(cursor: sqlite3.Cursor, brews: list[Brew]) -> None:
            if brews[0].id == "brew-0002":
                release.wait(10)  # the second transaction lasts until the test lets it end
            spied(cursor, brews)

        self.patch(storage, "write_brews", held)
        first = history.record(brew(1))
        clock.advance(0)
        second = history.record(brew(2))
        await first
        await deferLater(reactor, 0, lambda: None)  # once the first is done, the second begins
        later = [history.record(brew(n)) for n in (3, 4)]
        self.assertEqual(clock.getDelayedCalls(), [])  # they wait for it, not for a turn
        release.set()
        await gatherResults([second, *later])
        self.assertEqual(batches, [["brew-0001"], ["brew-0002"], ["brew-0003", "brew-0004"]])

    def test_nothing_is_written_before_the_turn_is_over(self) -> None:
        history, clock = self.on_a_clock()
        batches = self.spy()
        writes = [history.record(brew(n)) for n in range(1, 3)]
        self.assertEqual((batches, [w.called for w in writes]), ([], [False, False]))
        clock.advance(0)
        return gatherResults(writes).addCallback(
            lambda _: self.assertEqual(batches, [["brew-0001", "brew-0002"]])
        )

    async def test_a_failed_transaction_fails_every_change_in_it(self) -> None:
        def broken(cursor: sqlite3.Cursor, brews: list[Brew]) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        self.patch(storage, "write_brews", broken)
        writes = [self.history.record(brew(n)) for n in range(1, 4)]
        for write in writes:
            failure = await self.assertFailure(write, sqlite3.OperationalError)
            self.assertEqual(str(failure), "disk I/O error")

    async def test_close_waits_for_the_writes_recorded(self) -> None:
        writes = [self.history.record(brew(n)) for n in range(1, 4)]
        await self.history.close()
        self.assertEqual([w.called for w in writes], [True, True, True])
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("SELECT COUNT(*) FROM brews").fetchone()[0], 3)

    def test_every_commit_is_synced(self) -> None:
        connection = sqlite3.connect(":memory:")
        storage.configure(connection)
        self.assertEqual(connection.execute("PRAGMA synchronous").fetchone()[0], 2)


class UnusableFileTests(TestCase):
    def path(self) -> Path:
        return Path(self.mktemp()).absolute()

    def assertUnusable(self, path: Path, *words: str) -> None:
        error = self.assertRaises(HistoryUnusable, verify, str(path))
        message = str(error)
        self.assertIn(str(path), message)
        self.assertNotIn("\n", message)
        for word in words:
            self.assertIn(word, message)

    def test_a_file_that_is_not_a_database(self) -> None:
        path = self.path()
        path.write_bytes(b"this is a shopping list, not a brew history\n" * 30)
        self.assertUnusable(path, f"history {path} is not an SQLite database", "move it aside")

    def test_a_path_that_cannot_be_opened(self) -> None:
        path = self.path()
        path.mkdir()
        self.assertUnusable(path, "cannot be opened", "may read and write")

    def test_a_damaged_database(self) -> None:
        path = self.path()
        history = History(str(path))
        history.prepare()
        history.close()
        data = bytearray(path.read_bytes())
        data[100:4096] = b"\xff" * 3996
        path.write_bytes(bytes(data))
        self.assertUnusable(path, "damaged", ".recover")

    def test_a_database_said_to_be_corrupt(self) -> None:
        error = unusable("/srv/h.sqlite3", sqlite3.DatabaseError("database disk image is corrupt"))
        self.assertIn("history /srv/h.sqlite3 is damaged (database disk image is", str(error))
        self.assertIn("sqlite3 /srv/h.sqlite3 .recover", str(error))

    def test_a_busy_database_is_locked(self) -> None:
        error = unusable("/srv/h.sqlite3", sqlite3.OperationalError("database is busy"))
        self.assertIn("history /srv/h.sqlite3 is locked by another process", str(error))

    def test_a_read_only_database(self) -> None:
        for text in ("attempt to write a readonly database", "file is read-only"):
            error = unusable("/srv/h.sqlite3", sqlite3.OperationalError(text))
            self.assertEqual(
                str(error),
                "history /srv/h.sqlite3 is read-only: let the user running the pot server"
                " write it and its directory",
                text,
            )

    def test_a_newer_schema(self) -> None:
        path = self.path()
        with sqlite3.connect(path) as connection:
            connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        self.assertUnusable(path, "newer than this htcpcp knows")

    def test_a_locked_database(self) -> None:
        path = self.path()
        verify(str(path))
        holder = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute("BEGIN EXCLUSIVE")
        self.patch(storage, "configure", _impatient)
        self.assertUnusable(path, f"history {path} is locked by another process")


def _impatient(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA busy_timeout=50")
