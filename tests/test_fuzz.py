"""Runs the parser fuzz target (atheris) for a bounded time."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "fuzz" / "fuzz_parser.py"
SECONDS = int(os.environ.get("HTCPCP_FUZZ_SECONDS", "15"))


class FuzzTests(SynchronousTestCase):
    def test_parser_survives_fuzzing(self) -> None:
        if find_spec("atheris") is None:
            message = "atheris is not installed (pip install -e '.[test]' on Linux, Python < 3.13)"
            if os.environ.get("HTCPCP_REQUIRE_TOOLS") == "1":
                raise AssertionError(f"{message} (HTCPCP_REQUIRE_TOOLS=1)")
            raise SkipTest(f"*** SKIPPED: {message} ***")
        corpus = Path(self.mktemp())
        corpus.mkdir(parents=True)
        result = subprocess.run(
            [
                sys.executable,
                str(TARGET),
                f"-max_total_time={SECONDS}",
                "-rss_limit_mb=1024",
                str(corpus),
                str(ROOT / "fuzz" / "corpus"),
            ],
            capture_output=True,
            text=True,
            timeout=SECONDS + 120,
            check=False,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertRegex(result.stderr, r"Done \d+ runs")
        self.assertGreater(len(list(corpus.iterdir())), 0)
