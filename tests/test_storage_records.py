"""Tests that every field of a brew survives the history: columns, events, tea, closing."""

from __future__ import annotations

import sqlite3
from dataclasses import FrozenInstanceError, asdict, replace
from pathlib import Path

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from htcpcp.pot import Bean, Brew
from htcpcp.retention import Retention
from htcpcp.storage import History, Slice

KOPI = Bean("Kopi", "smoky", "Sumatra", "robusta", 4, "dark")
MILKY = Brew(
    id="a1",
    pot="ducky",
    beverage="coffee",
    variety=None,
    additions=("Whole-milk", "rum"),
    bean=KOPI,
    started=1000.25,
    brew_end=1030.25,
    milk=True,
    pour_start=1030.25,
    pour_stop=1033.5,
    stopped=None,
    outcome="ready",
    strength=1.0,
)
STOPPED_TEA = Brew(
    id="b2",
    pot="kettle",
    beverage="tea",
    variety="earl-grey",
    additions=(),
    bean=None,
    started=2000.0,
    brew_end=2240.0,
    milk=False,
    stopped=2060.0,
    outcome="stopped",
    strength=0.25,
)


class StoredBrewTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(self.path)
        self.addCleanup(self.history.close)
        self.history.prepare()

    def events(self) -> list[tuple[str, str, float]]:
        with sqlite3.connect(self.path) as connection:
            return connection.execute(
                "SELECT brew_id, outcome, at FROM events ORDER BY seq"
            ).fetchall()

    async def test_every_column_is_read_back(self) -> None:
        await self.history.record(MILKY)
        await self.history.record(STOPPED_TEA)
        page = await self.history.page(None, 1, 10)
        self.assertEqual(
            page["brews"],
            [
                {**asdict(STOPPED_TEA), "additions": [], "resumed": False, "seq": 2},
                {**asdict(MILKY), "additions": ["Whole-milk", "rum"], "resumed": False, "seq": 1},
            ],
        )

    async def test_milk_is_a_boolean(self) -> None:
        await self.history.record(MILKY)
        await self.history.record(STOPPED_TEA)
        await self.history.record(replace(MILKY, id="m3", pour_start=None, outcome="brewing"))
        page = await self.history.page(None, 1, 10)
        self.assertEqual([type(b["milk"]) for b in page["brews"]], [bool, bool, bool])
        self.assertEqual([b["milk"] for b in page["brews"]], [True, False, True])

    async def test_a_brew_in_progress_comes_back_whole(self) -> None:
        pouring = replace(MILKY, pour_stop=None, outcome="pouring", strength=0.5)
        brewing = replace(STOPPED_TEA, stopped=None, outcome="brewing", strength=1.0)
        milky = replace(MILKY, id="m3", pour_start=None, pour_stop=None, outcome="brewing")
        odd = replace(MILKY, id="o4", pour_start=1.5, pour_stop=2.5, stopped=3.5, outcome="brewing")
        for brew in (pouring, brewing, milky, odd):
            await self.history.record(brew)
        await self.history.close()
        again = History(self.path)
        self.addCleanup(again.close)
        self.assertEqual(again.prepare(), [pouring, brewing, milky, odd])

    async def test_resumed_brews_are_listed_as_resumed(self) -> None:
        await self.history.record(replace(MILKY, outcome="brewing"))
        await self.history.close()
        again = History(self.path)
        self.addCleanup(again.close)
        again.prepare()
        page = await again.page(None, 1, 10)
        self.assertEqual([(b["id"], b["resumed"]) for b in page["brews"]], [("a1", True)])

    async def test_a_later_state_replaces_the_earlier(self) -> None:
        await self.history.record(
            replace(MILKY, pour_start=None, pour_stop=None, outcome="brewing")
        )
        await self.history.record(MILKY)
        page = await self.history.page("ducky", 1, 10)
        self.assertEqual((page["total"], page["brews"][0]["pour_stop"]), (1, 1033.5))

    async def test_tea_without_a_bean(self) -> None:
        await self.history.record(STOPPED_TEA)
        page = await self.history.page("kettle", 1, 10)
        [tea] = page["brews"]
        self.assertEqual((tea["bean"], tea["variety"], tea["milk"]), (None, "earl-grey", False))

    async def test_event_times(self) -> None:
        started = replace(MILKY, pour_start=None, pour_stop=None, outcome="brewing")
        pouring = replace(MILKY, pour_stop=None, outcome="pouring")
        plain = replace(STOPPED_TEA, id="c3", stopped=None, outcome="ready", strength=1.0)
        for brew in (started, pouring, MILKY, STOPPED_TEA, plain):
            await self.history.record(brew)
        self.assertEqual(
            self.events(),
            [
                ("a1", "brewing", 1000.25),
                ("a1", "pouring", 1030.25),
                ("a1", "ready", 1033.5),
                ("b2", "stopped", 2060.0),
                ("c3", "ready", 2240.0),
            ],
        )

    async def test_event_time_without_the_time_its_outcome_names(self) -> None:
        await self.history.record(replace(STOPPED_TEA, stopped=None))
        await self.history.record(replace(MILKY, id="d4", pour_start=None, outcome="pouring"))
        self.assertEqual(self.events(), [("b2", "stopped", 2000.0), ("d4", "pouring", 1000.25)])


class SliceTests(TestCase):
    def test_a_slice_is_a_frozen_value(self) -> None:
        chosen = Slice()
        self.assertEqual((chosen.pot, chosen.before), (None, None))
        self.assertRaises(FrozenInstanceError, setattr, chosen, "pot", "ducky")


class ClosingTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(self.path)
        self.history.prepare()

    async def test_close_waits_for_the_writes_recorded(self) -> None:
        written = self.history.record(MILKY)
        closed = self.history.close()
        await closed
        self.assertIsNone(self.successResultOf(written))
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("SELECT id FROM brews").fetchall(), [("a1",)])

    async def test_close_when_idle_closes_the_database(self) -> None:
        await self.history.record(MILKY)
        self.assertTrue(Path(self.path + "-wal").exists())
        await self.history.close()
        self.assertFalse(Path(self.path + "-wal").exists())

    async def test_close_twice(self) -> None:
        first = self.history.close()
        await first
        second = self.history.close()
        self.assertIsNone(self.successResultOf(second))

    async def test_close_twice_while_writing(self) -> None:
        written = self.history.record(MILKY)
        first = self.history.close()
        second = self.history.close()
        self.assertNoResult(first)
        await written
        await first
        await second

    async def test_writes_recorded_together_are_all_acknowledged(self) -> None:
        writes: list[Deferred[None]] = [
            self.history.record(replace(MILKY, id=f"e{n}")) for n in range(5)
        ]
        for write in writes:
            await write
        await self.history.close()
        with sqlite3.connect(self.path) as connection:
            self.assertEqual(connection.execute("SELECT COUNT(*) FROM brews").fetchone(), (5,))


class CursorPageNumberTests(TestCase):
    def setUp(self) -> None:
        self.path = str(Path(self.mktemp() + ".sqlite3").absolute())
        self.history = History(self.path)
        self.addCleanup(self.history.close)
        self.history.prepare()

    async def test_pages_after_a_cursor_know_their_number(self) -> None:
        for number in range(5):
            await self.history.record(replace(MILKY, id=f"p{number}", started=1000.0 + number))
        first = await self.history.page(None, 1, 2)
        self.assertEqual((first["page"], first["next"]), (1, "4"))
        second = await self.history.page(None, 1, 2, 4)
        self.assertEqual(
            (second["page"], [b["seq"] for b in second["brews"]], second["next"]), (2, [3, 2], "2")
        )
        self.assertEqual((second["before"], second["days"]), (4, {}))
        third = await self.history.page(None, 1, 2, 2)
        self.assertEqual(
            (third["page"], [b["seq"] for b in third["brews"]], third["next"]), (3, [1], None)
        )

    async def test_one_pot_pages_after_a_cursor_know_their_number(self) -> None:
        for number in range(6):
            pot = "ducky" if number % 2 else "kettle"
            await self.history.record(replace(MILKY, id=f"q{number}", pot=pot))
        first = await self.history.page("ducky", 1, 2)
        self.assertEqual(([b["seq"] for b in first["brews"]], first["next"]), ([6, 4], "4"))
        second = await self.history.page("ducky", 1, 2, 4)
        self.assertEqual((second["page"], [b["seq"] for b in second["brews"]]), (2, [2]))

    async def test_cursor_of_another_pot(self) -> None:
        for number in range(4):
            pot = "ducky" if number % 2 else "kettle"
            await self.history.record(replace(MILKY, id=f"r{number}", pot=pot))
        page = await self.history.page("ducky", 1, 5, 3)
        self.assertEqual(
            (page["page"], page["before"], [b["seq"] for b in page["brews"]]), (1, 3, [2])
        )

    async def test_an_empty_history_has_one_page(self) -> None:
        page = await self.history.page(None, 1, 10)
        self.assertEqual(
            (page["pages"], page["total"], page["brews"], page["before"], page["next"]),
            (1, 0, [], None, None),
        )
        self.assertEqual((page["days"], page["outcomes"], page["pots"]), ({}, {}, {}))

    async def test_chart_days_end_at_the_newest_brew_start(self) -> None:
        day = 86400.0
        newest_start = 200 * day - 10
        await self.history.record(replace(MILKY, id="old", started=newest_start - 89 * day))
        await self.history.record(
            replace(MILKY, id="new", started=newest_start, brew_end=newest_start + 30)
        )
        page = await self.history.page(None, 1, 10)
        self.assertEqual(sorted(page["days"].values()), [1, 1])


class RetentionBoundaryTests(TestCase):
    async def test_a_day_is_86400_seconds(self) -> None:
        path = str(Path(self.mktemp() + ".sqlite3").absolute())
        history = History(path, Retention(days=2))
        self.addCleanup(history.close)
        history.prepare()
        now = 10_000_000.0
        await history.record(replace(MILKY, id="gone", started=now - 2 * 86400 - 1))
        await history.record(replace(MILKY, id="kept", started=now - 2 * 86400 + 1))
        self.assertEqual(await history.prune(now), 1)
        page = await history.page(None, 1, 10)
        self.assertEqual([b["id"] for b in page["brews"]], ["kept"])
