"""
Mutation testing of the core: one-line mutants, each run against trial.

Usage (one command per module; see docs/testing.md)::

    .venv/bin/python scripts/mutate.py urls
    .venv/bin/python scripts/mutate.py message            # every module of the package
    .venv/bin/python scripts/mutate.py message.requests
    .venv/bin/python scripts/mutate.py message --sample 0.2 --seed 3
    .venv/bin/python scripts/mutate.py pot --list
    .venv/bin/python scripts/mutate.py pot --only 12,40 --show

Every mutant is a copy of the module's syntax tree with one change: a
comparison, boolean or arithmetic operator swapped, a constant changed, a
condition negated, a returned value replaced by C{None}, or a statement
removed.  Each mutant runs in its own trial process (forked from this one, which has
already imported Twisted, Hypothesis and the other libraries, never the
reactor), with the module's own test modules first and the broader ones
after, stopping at the first failure, under a per-mutant timeout.  A mutant
is killed when trial fails (or times out) and survives when every test
passes.  The module's file on disk is never touched: the child compiles the
mutant and installs it in C{sys.modules} before trial imports anything.
Hypothesis runs derandomized, so every run judges a mutant alike.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import random
import select
import signal
import sys
import tempfile
import time
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from mutants import Mutant, apply_mutant, list_mutants

ROOT: Final = Path(__file__).resolve().parent.parent

_MESSAGE_TESTS: Final = (
    (
        "tests.test_message",
        "tests.test_message_framing",
        "tests.test_message_headers",
        "tests.test_message_http",
        "tests.test_message_responses",
        "tests.test_parse_memo",
        "tests.test_parser_properties",
        "tests.test_parser_reference",
    ),
    ("tests.test_protocol", "tests.test_client"),
)
_DISPATCH_TESTS: Final = (
    ("tests.test_dispatch", "tests.test_protocol", "tests.test_recording"),
    ("tests.test_history_resource", "tests.test_integration"),
)
_STORAGE_TESTS: Final = (
    (
        "tests.test_storage",
        "tests.test_storage_records",
        "tests.test_history_pages",
        "tests.test_history_retention",
    ),
    ("tests.test_history_resource", "tests.test_protocol", "tests.test_integration"),
)

GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "message": tuple(
        f"message.{name}"
        for name in ("events", "headers", "chunked", "memo", "requests", "responses", "writers")
    ),
    "dispatch": (
        "dispatch",
        "reply",
        "representations",
        "pot_resource",
        "pots_resource",
        "recording",
    ),
    "storage": ("storage", "history_schema", "history_queries", "retention"),
}
"""Each name the issue's table uses, and the modules that now do its job."""

TESTS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "urls": (("tests.test_urls",), ("tests.test_protocol", "tests.test_client")),
    "additions": (("tests.test_additions",), ("tests.test_protocol",)),
    "pot": (
        ("tests.test_pot", "tests.test_pot_cycle"),
        ("tests.test_protocol", "tests.test_storage"),
    ),
    **{module: _MESSAGE_TESTS for module in GROUPS["message"]},
    **{module: _DISPATCH_TESTS for module in GROUPS["dispatch"]},
    **{module: _STORAGE_TESTS for module in GROUPS["storage"]},
}
"""For each module: its own test modules, then the broader ones."""


def module_path(module: str) -> Path:
    """The file of C{module}, a dotted name under C{htcpcp} (C{message.requests})."""
    return ROOT / "htcpcp" / (module.replace(".", "/") + ".py")


def load_tree(module: str) -> ast.Module:
    return ast.parse(module_path(module).read_text("utf-8"))


PRELOADED: Final = (
    "twisted.scripts.trial",
    "twisted.trial.unittest",
    "twisted.internet.defer",
    "twisted.internet.endpoints",
    "twisted.internet.ssl",
    "twisted.internet.task",
    "twisted.internet.testing",
    "twisted.enterprise.adbapi",
    "twisted.application.strports",
    "twisted.protocols.basic",
    "twisted.logger",
    "OpenSSL.SSL",
    "cryptography.x509",
    "service_identity",
    "hypothesis.strategies",
    "h11",
    "treq",
)
"""Imported once before the first fork, so no mutant pays for them (never the reactor)."""


def preload() -> None:
    """Import what every run needs, and make Hypothesis repeatable and quiet."""
    for name in PRELOADED:
        importlib.import_module(name)
    if "twisted.internet.reactor" in sys.modules:
        raise RuntimeError("a preloaded module installed the reactor; forked runs would share it")
    from hypothesis import settings

    settings.register_profile("mutation", derandomize=True, database=None, print_blob=False)
    settings.load_profile("mutation")
    sys.path.insert(0, str(ROOT))


class _MutantLoader(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves one module's mutated code when it is imported, wherever that happens."""

    def __init__(self, name: str, path: Path, code: types.CodeType) -> None:
        self._name = name
        self._path = path
        self._code = code

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._name:
            return None
        return importlib.util.spec_from_file_location(fullname, self._path, loader=self)

    def exec_module(self, module: types.ModuleType) -> None:
        exec(self._code, module.__dict__)


def install_mutant(module: str, tree: ast.Module, mutant: Mutant | None) -> None:
    """Make C{mutant} of C{module} (C{None}: the module as it is) what imports get."""
    if mutant is not None:
        tree = apply_mutant(tree, mutant)
    path = module_path(module)
    code = compile(tree, str(path), "exec")
    sys.meta_path.insert(0, _MutantLoader(f"htcpcp.{module}", path, code))
    importlib.import_module("htcpcp")


def _child(module: str, tree: ast.Module, mutant: Mutant | None, temp: Path) -> int:
    """In the forked child: install the mutant, run trial, return its exit code."""
    from twisted.scripts.trial import run

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.chdir(temp)
    install_mutant(module, tree, mutant)
    own, broader = TESTS[module]
    sys.argv = ["trial", "--exitfirst", f"--temp-directory={temp / '_trial_temp'}", *own, *broader]
    try:
        run()
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    return 0


@dataclass(frozen=True)
class Outcome:
    module: str
    mutant: Mutant
    status: str
    seconds: float


def run_mutant(
    module: str, tree: ast.Module, mutant: Mutant | None, timeout: float, temp: Path
) -> tuple[str, float]:
    """
    Run the tests against one mutant in a forked child; C{killed}, C{survived} or C{timeout}.

    The child mutates the tree read when the run began, so editing the
    module during a run changes nothing in it.
    """
    started = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    done_reading, done_writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(done_reading)
        os.setpgid(0, 0)
        code = 3
        try:
            code = _child(module, tree, mutant, temp)
        finally:
            os._exit(code)
    os.close(done_writing)
    finished, _, _ = select.select([done_reading], [], [], timeout)
    os.close(done_reading)
    if not finished:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "timeout", time.monotonic() - started
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return ("survived" if code == 0 else "killed"), time.monotonic() - started


def _mutate_module(module: str, args: argparse.Namespace, temp: Path) -> list[Outcome] | None:
    """Run the selected mutants of one module; C{None} when its tests fail unmutated."""
    tree = load_tree(module)
    mutants = list_mutants(tree)
    selected = mutants
    if args.only:
        selected = [mutants[int(n)] for n in args.only.split(",")]
    elif args.sample:
        chosen = random.Random(args.seed).sample(mutants, round(len(mutants) * args.sample))
        selected = sorted(chosen, key=lambda m: m.number)
    lines = module_path(module).read_text("utf-8").splitlines()
    if args.list:
        for mutant in selected:
            print(
                f"{mutant.number:4d} line {mutant.line:4d} {mutant.kind:12s} {mutant.description}"
            )
        return []
    status, seconds = run_mutant(module, tree, None, 600.0, temp)
    if status != "survived":
        print(f"the tests fail on htcpcp/{module_path(module).relative_to(ROOT / 'htcpcp')}")
        print(f"without any mutant ({status}); fix them first")
        return None
    timeout = args.timeout or max(10.0, 3 * seconds)
    name = module_path(module).relative_to(ROOT)
    print(f"{len(selected)} of {len(mutants)} mutants of {name};", end=" ")
    print(f"clean run {seconds:.1f} s, timeout {timeout:.0f} s each", flush=True)
    outcomes = []
    for mutant in selected:
        status, seconds = run_mutant(module, tree, mutant, timeout, temp)
        outcomes.append(Outcome(module, mutant, status, seconds))
        where = f"{mutant.number:4d} line {mutant.line:4d}"
        print(f"{status:8s} {where} {mutant.kind:12s} {mutant.description}", flush=True)
        if args.show and status == "survived":
            print(f"         {lines[mutant.line - 1].strip()}")
    return outcomes


def _score_line(what: str, outcomes: list[Outcome]) -> str:
    killed = sum(o.status != "survived" for o in outcomes)
    score = 100 * killed / len(outcomes) if outcomes else 100.0
    return f"{what}: {killed} of {len(outcomes)} killed, score {score:.1f}%"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1] if __doc__ else None)
    parser.add_argument(
        "module", choices=sorted({*TESTS, *GROUPS}), help="a module, or a group of them"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--only", help="comma-separated mutant numbers to run (one module)")
    parser.add_argument("--sample", type=float, help="run this fraction of the mutants")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument(
        "--timeout", type=float, help="seconds per mutant (default: from a clean run)"
    )
    parser.add_argument(
        "--show", action="store_true", help="print each mutant's changed source line"
    )
    parser.add_argument("--report", type=Path, help="write every outcome to this JSON file")
    args = parser.parse_args(argv)
    modules = GROUPS.get(args.module, (args.module,))
    if args.only and len(modules) > 1:
        if args.module not in TESTS:
            parser.error("--only names mutants of one module, not of a group")
        modules = (args.module,)  # storage, dispatch: the module the group is named after
    if not args.list:
        preload()
    every: list[Outcome] = []
    scores = []
    with tempfile.TemporaryDirectory(prefix="mutate-") as temp_name:
        for module in modules:
            outcomes = _mutate_module(module, args, Path(temp_name))
            if outcomes is None:
                return 2
            every.extend(outcomes)
            scores.append(_score_line(str(module_path(module).relative_to(ROOT)), outcomes))
    if args.list:
        return 0
    print("\n".join(scores))
    if len(modules) > 1:
        print(_score_line(args.module, every))
    if args.report:
        args.report.write_text(json.dumps([asdict(o) for o in every], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
