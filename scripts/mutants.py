# -*- test-case-name: tests.test_mutants -*-
"""
The one-line mutants of a module's syntax tree, for ``scripts/mutate.py``.

L{list_mutants} numbers every change the tool makes to a module (in walk
order, so numbers are stable while the module is), and L{apply_mutant}
makes one of them on a copy of the tree.  The kinds of change are listed in
docs/testing.md ("Mutation testing").
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["Mutant", "apply_mutant", "list_mutants"]

_SWAPPED_COMPARISONS: Final[dict[type[ast.cmpop], type[ast.cmpop]]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SWAPPED_OPERATORS: Final[dict[type[ast.operator], type[ast.operator]]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_SYMBOLS: Final[dict[type[ast.AST], str]] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.LShift: "<<",
    ast.RShift: ">>",
}


@dataclass(frozen=True)
class Mutant:
    """One change to a module: which node (in walk order) and what becomes of it."""

    number: int
    node_index: int
    kind: str
    line: int
    description: str


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Ids of nodes never mutated: docstrings, annotations, imports, C{__all__}, asserts."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(child) for child in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip(node)  # docstrings, of modules, classes, functions and attributes
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            arguments = node.args
            for argument in (*arguments.args, *arguments.kwonlyargs, *arguments.posonlyargs):
                skip(argument.annotation)
            for argument in (arguments.vararg, arguments.kwarg):
                skip(argument.annotation if argument else None)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assert, ast.JoinedStr)):
            skip(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip(node)
        if isinstance(node, ast.Subscript) and _is_type_subscript(node):
            skip(node)
        is_alias = isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript)
        if is_alias and _is_type_subscript(node.value):  # type: ignore[attr-defined, arg-type]
            skip(node)  # a type alias, used only in annotations
    return skipped


def _is_type_subscript(node: ast.Subscript) -> bool:
    """Whether a subscript is a generic type (C{BoundedCache[bytes, _Head]}), not an index."""
    return isinstance(node.value, ast.Name) and node.value.id[:1].isupper()


def _mutated_constant(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return {0: 1, 1: 0}.get(value, value + 1)
    if isinstance(value, float):
        return value + 1.0
    if isinstance(value, str):
        return "XX" + value if value else "mutant"
    if isinstance(value, bytes):
        return b"XX" + value if value else b"mutant"
    return None


def _mutations(node: ast.AST) -> Iterator[tuple[str, str]]:
    """The (kind, description) of each mutation a node allows."""
    if isinstance(node, ast.Compare):
        for position, op in enumerate(node.ops):
            swapped = _SWAPPED_COMPARISONS[type(op)]
            yield f"compare:{position}", f"{_SYMBOLS[type(op)]} -> {_SYMBOLS[swapped]}"
    elif isinstance(node, ast.BinOp) and type(node.op) in _SWAPPED_OPERATORS:
        swapped_op = _SWAPPED_OPERATORS[type(node.op)]
        yield "binop", f"{_SYMBOLS[type(node.op)]} -> {_SYMBOLS[swapped_op]}"
    elif isinstance(node, ast.AugAssign) and type(node.op) in _SWAPPED_OPERATORS:
        swapped_op = _SWAPPED_OPERATORS[type(node.op)]
        yield "augassign", f"{_SYMBOLS[type(node.op)]}= -> {_SYMBOLS[swapped_op]}="
    elif isinstance(node, ast.BoolOp):
        yield "boolop", "and -> or" if isinstance(node.op, ast.And) else "or -> and"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop-not", "not x -> x"
    elif isinstance(node, ast.Constant) and _mutated_constant(node.value) is not None:
        yield "constant", f"{node.value!r} -> {_mutated_constant(node.value)!r}"
    if isinstance(node, (ast.If, ast.While, ast.IfExp)) and not isinstance(
        node.test, (ast.Compare, ast.UnaryOp)
    ):
        yield "negate", "condition negated"
    if isinstance(node, ast.Return) and not (
        node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None)
    ):
        yield "return-none", "return value -> None"
    if isinstance(node, (ast.Expr, ast.Assign, ast.AugAssign, ast.Delete, ast.Raise)):
        yield "delete", f"statement removed: {ast.unparse(node).splitlines()[0][:60]}"
    if isinstance(node, (ast.Break, ast.Continue)):
        yield "delete", f"{type(node).__name__.lower()} removed"


def _walk(tree: ast.Module) -> list[tuple[ast.AST, ast.AST | None]]:
    """Every node with its parent, in a fixed order."""
    order: list[tuple[ast.AST, ast.AST | None]] = [(tree, None)]
    position = 0
    while position < len(order):
        node = order[position][0]
        order.extend((child, node) for child in ast.iter_child_nodes(node))
        position += 1
    return order


def list_mutants(tree: ast.Module) -> list[Mutant]:
    """Every mutant of a module, numbered in source order."""
    skipped = _skipped_nodes(tree)
    found = []
    for index, (node, _parent) in enumerate(_walk(tree)):
        if id(node) in skipped:
            continue
        place = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0), index)
        found.extend((place, kind, description) for kind, description in _mutations(node))
    found.sort()
    return [
        Mutant(number, place[2], kind, place[0], description)
        for number, (place, kind, description) in enumerate(found)
    ]


def _replace_child(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list) and any(item is old for item in value):
            value[next(i for i, item in enumerate(value) if item is old)] = new
            return
    raise LookupError("node not found under its parent")


def apply_mutant(tree: ast.Module, mutant: Mutant) -> ast.Module:
    """A copy of C{tree} with C{mutant}'s change made."""
    tree = copy.deepcopy(tree)
    node, parent = _walk(tree)[mutant.node_index]
    kind = mutant.kind
    if kind.startswith("compare:"):
        position = int(kind.partition(":")[2])
        node.ops[position] = _SWAPPED_COMPARISONS[type(node.ops[position])]()
    elif kind in ("binop", "augassign"):
        node.op = _SWAPPED_OPERATORS[type(node.op)]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "drop-not":
        assert parent is not None
        _replace_child(parent, node, node.operand)
    elif kind == "constant":
        node.value = _mutated_constant(node.value)
    elif kind == "negate":
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif kind == "return-none":
        node.value = ast.Constant(None)
    elif kind == "delete":
        assert parent is not None
        _replace_child(parent, node, ast.Pass())
    return ast.fix_missing_locations(tree)
