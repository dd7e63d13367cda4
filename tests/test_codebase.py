# -*- test-case-name: tests.test_codebase -*-
"""
The habits of the codebase that review alone would let slip.

Every module of the package (and the twistd plugin) says what it is for in
a docstring and names the tests that cover it in a C{test-case-name} header
(so C{trial --testmodule} runs them), and each module it names exists.
No module grows past L{MAX_LINES}: one that does has more than one job.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from twisted.trial.unittest import TestCase

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 420
"""The longest a module of the package may be (CONTRIBUTING.md: under about 400 lines)."""
HEADER = re.compile(r"# -\*- test-case-name: (?P<names>[\w., ]+) -\*-\Z")


def _modules() -> list[Path]:
    found = sorted((ROOT / "htcpcp").rglob("*.py")) + sorted((ROOT / "twisted").rglob("*.py"))
    return [path for path in found if path.name != "__init__.py" or path.stat().st_size]


class ModuleHabitsTests(TestCase):
    """Docstrings and test-case-name headers, on every module."""

    def test_there_are_modules_to_check(self) -> None:
        self.assertGreater(len(_modules()), 50)

    def test_every_module_has_a_docstring(self) -> None:
        missing = [
            str(path.relative_to(ROOT))
            for path in _modules()
            if not ast.get_docstring(ast.parse(path.read_text("utf-8")))
        ]
        self.assertEqual(missing, [])

    def test_every_module_names_tests_that_exist(self) -> None:
        wrong = []
        for path in _modules():
            first = path.read_text("utf-8").partition("\n")[0]
            header = HEADER.match(first)
            if header is None:
                wrong.append(f"{path.relative_to(ROOT)}: no test-case-name header")
                continue
            for name in header.group("names").split(","):
                test_file = ROOT / (name.strip().replace(".", "/") + ".py")
                if not test_file.is_file():
                    wrong.append(f"{path.relative_to(ROOT)}: {name.strip()} does not exist")
        self.assertEqual(wrong, [])

    def test_no_module_is_longer_than_its_limit(self) -> None:
        long = {
            str(path.relative_to(ROOT)): lines
            for path in _modules()
            if (lines := len(path.read_text("utf-8").splitlines())) > MAX_LINES
        }
        self.assertEqual(long, {})
