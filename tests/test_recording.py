"""
Tests for L{ChangeRecorder}: a change made through it is written once and
its write handed back; the pots' own changes are written by subscription.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.config import default_config
from htcpcp.pot import Brew, Pot, PotBusy
from htcpcp.recording import ChangeRecorder


class CountingHistory:
    """Records every write; each fails while C{broken}."""

    def __init__(self) -> None:
        self.written: list[Brew] = []
        self.broken = False

    def record(self, brew: Brew) -> Deferred[None]:
        self.written.append(brew)
        return fail(OSError("disk full")) if self.broken else succeed(None)


def coffee_pot(clock: Clock) -> Pot:
    spec = default_config().pots[0]
    return Pot(spec, 0, clock)


class ChangeRecorderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.pot = coffee_pot(self.clock)
        self.history = CountingHistory()
        self.recorder = ChangeRecorder([self.pot], self.history)  # type: ignore[arg-type]

    def test_a_change_made_through_it_is_written_once_and_its_write_returned(self) -> None:
        brew, write = self.recorder.make(self.pot, self.pot.start)
        assert write is not None
        self.assertEqual(self.history.written, [brew])
        self.assertIs(self.successResultOf(write), True)

    def test_a_failed_write_is_reported_and_logged(self) -> None:
        self.history.broken = True
        with capturedLogs() as events:
            brew, write = self.recorder.make(self.pot, self.pot.start)
        assert write is not None
        self.assertIs(self.successResultOf(write), False)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        self.assertEqual([formatEvent(e) for e in events], [f"could not record brew {brew.id}"])

    def test_the_pots_own_changes_are_written_by_subscription(self) -> None:
        brew, _ = self.recorder.make(self.pot, self.pot.start)
        self.clock.advance(brew.brew_end - brew.started)
        self.assertEqual([b.outcome for b in self.history.written], ["brewing", "ready"])

    def test_a_change_that_fails_writes_nothing(self) -> None:
        self.recorder.make(self.pot, self.pot.start)
        self.assertRaises(PotBusy, self.recorder.make, self.pot, self.pot.start)
        self.assertEqual(len(self.history.written), 1)
        self.clock.advance(1)
        self.pot.stop()
        self.assertEqual([b.outcome for b in self.history.written], ["brewing", "stopped"])

    def test_without_a_history_nothing_is_written(self) -> None:
        recorder = ChangeRecorder([self.pot], None)
        brew, write = recorder.make(self.pot, self.pot.start)
        self.assertEqual((brew.outcome, write), ("brewing", None))
