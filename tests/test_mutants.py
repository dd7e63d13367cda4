# -*- test-case-name: tests.test_mutants -*-
"""
The mutation tool's mutants (C{scripts/mutants.py}): which changes it makes, and how.

The expected mutants are written out from the table of kinds in
docs/testing.md, for a function small enough to list every one by hand.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from twisted.trial.unittest import TestCase

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mutants.py"

SOURCE = '''"""A module docstring is never mutated."""


def f(a: int, b: int) -> int:
    """Nor a function's."""
    if a == b and not a:
        return a + 1
    total = a * 2
    return total
'''


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutants", module)
    spec.loader.exec_module(module)
    return module


def _function(tree: ast.Module) -> object:
    namespace: dict[str, object] = {}
    exec(compile(tree, "<mutant>", "exec"), namespace)
    return namespace["f"]


class MutantTests(TestCase):
    def setUp(self) -> None:
        self.mutants = _load()
        self.tree = ast.parse(SOURCE)

    def test_every_kind_of_change_in_source_order(self) -> None:
        listed = [(m.line, m.kind, m.description) for m in self.mutants.list_mutants(self.tree)]
        self.assertEqual(
            listed,
            [
                (6, "negate", "condition negated"),
                (6, "boolop", "and -> or"),
                (6, "compare:0", "== -> !="),
                (6, "drop-not", "not x -> x"),
                (7, "return-none", "return value -> None"),
                (7, "binop", "+ -> -"),
                (7, "constant", "1 -> 0"),
                (8, "delete", "statement removed: total = a * 2"),
                (8, "binop", "* -> //"),
                (8, "constant", "2 -> 3"),
                (9, "return-none", "return value -> None"),
            ],
        )

    def test_mutants_are_numbered_from_zero(self) -> None:
        numbers = [m.number for m in self.mutants.list_mutants(self.tree)]
        self.assertEqual(numbers, list(range(11)))

    def test_each_mutant_changes_what_the_function_does(self) -> None:
        original = _function(self.tree)
        inputs = [(0, 0), (3, 3), (4, 5), (-3, 2)]
        expected = [original(a, b) for a, b in inputs]  # type: ignore[operator]
        self.assertEqual(expected, [1, 6, 8, -6])
        for mutant in self.mutants.list_mutants(self.tree):
            changed = _function(self.mutants.apply_mutant(self.tree, mutant))
            try:
                got = [changed(a, b) for a, b in inputs]  # type: ignore[operator]
            except NameError:
                continue  # the assignment removed: total is never bound
            self.assertNotEqual(got, expected, mutant)

    def test_the_tree_given_is_left_as_it_was(self) -> None:
        before = ast.dump(self.tree)
        for mutant in self.mutants.list_mutants(self.tree):
            self.mutants.apply_mutant(self.tree, mutant)
        self.assertEqual(ast.dump(self.tree), before)

    def test_docstrings_annotations_and_imports_are_never_mutated(self) -> None:
        source = 'import os\n"""Doc."""\nx: int = 1\n__all__ = ["x"]\nassert x\n'
        listed = [(m.line, m.description) for m in self.mutants.list_mutants(ast.parse(source))]
        self.assertEqual(listed, [(3, "1 -> 0")])
