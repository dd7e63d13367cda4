# -*- test-case-name: tests.test_web_layout -*-
"""
The web front end's layers, as its packages name them, read from the
sources' import statements: C{http/} knows nothing of pots, C{pots/} and the
JSON API import no HTML module, and each name is one module's.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

PACKAGE = Path(__file__).resolve().parent.parent / "htcpcp"
WEB = "htcpcp.web"
HTML = ("htcpcp.web.pages", "htcpcp.web.forms", "twisted.web.template")
"""What makes or knows HTML: the pages, the forms they carry, the template library."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The modules C{path} imports, by their absolute names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


SOURCES = {module_name(path): path for path in (PACKAGE / "web").rglob("*.py")}


def reached_from(roots: Iterable[str]) -> dict[str, set[str]]:
    """Every web module the C{roots} import, directly or not, with what each imports."""
    seen: dict[str, set[str]] = {}
    waiting = list(roots)
    while waiting:
        name = waiting.pop()
        if name in seen or name not in SOURCES:
            continue
        seen[name] = imports_of(SOURCES[name])
        waiting.extend(seen[name])
    return seen


def inside(name: str, packages: Iterable[str]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


class WebLayersTests(SynchronousTestCase):
    def of_package(self, package: str) -> list[str]:
        names = [name for name in SOURCES if inside(name, [package])]
        self.assertGreater(len(names), 1, f"no modules found in {package}")
        return names

    def assertImportsNone(self, roots: list[str], forbidden: Iterable[str]) -> None:
        forbidden = tuple(forbidden)
        for module, imported in reached_from(roots).items():
            wrong = sorted(name for name in imported if inside(name, forbidden))
            self.assertEqual(wrong, [], f"{module} (reached from {roots}) imports {wrong}")

    def test_api_imports_no_html(self) -> None:
        """The JSON API, and everything it imports, knows no page, form or template."""
        self.assertImportsNone(self.of_package("htcpcp.web.api"), HTML)

    def test_pots_import_no_html_and_no_application(self) -> None:
        self.assertImportsNone(
            self.of_package("htcpcp.web.pots"),
            (*HTML, "htcpcp.web.api", "htcpcp.web.app", "htcpcp.web.frontend"),
        )

    def test_http_knows_nothing_of_pots(self) -> None:
        """The HTTP edge imports no other part of the front end."""
        for name in self.of_package("htcpcp.web.http"):
            web = {i for i in imports_of(SOURCES[name]) if inside(i, [WEB])}
            outside = sorted(i for i in web if not inside(i, ["htcpcp.web.http"]))
            self.assertEqual(outside, [], f"{name} imports {outside}")

    def test_the_checker_sees_an_html_import(self) -> None:
        """The check above fails for a module that imports a page (so it checks something)."""
        pages = self.of_package("htcpcp.web.pages")
        with self.assertRaises(self.failureException):
            self.assertImportsNone(pages, HTML)

    def test_one_service_module(self) -> None:
        """C{service.py} is the pot server's alone; the web's is C{web_service.py}."""
        services = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("service.py"))
        self.assertEqual(services, ["service.py"])
        self.assertIn("htcpcp.web.web_service", SOURCES)
