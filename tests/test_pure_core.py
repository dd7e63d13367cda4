"""
Tests that the sans-IO core stays pure and that nothing slow happens at
import or configuration time.

C{import htcpcp.message} and C{import htcpcp.pot} must load no reactor, no
TLS and no Klein (they load no Twisted at all), so the parser can be
fuzzed, property-tested and embedded cheaply; the package's names load
when first used.  The machine's names and addresses (DNS lookups) are
learned when the pot service starts, not when it is configured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from twisted.trial.unittest import TestCase

import htcpcp.config
from htcpcp.config import default_config
from htcpcp.service import makePotService

HEAVY = ("twisted", "OpenSSL", "klein", "cryptography", "treq")
"""Packages the sans-IO core must not load (by top-level name)."""


def loaded_after(statement: str) -> list[str]:
    """The modules of L{HEAVY} a fresh interpreter has loaded after C{statement}."""
    program = (
        f"import sys, json\n{statement}\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in"
        f" {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


class PureCoreTests(TestCase):
    timeout = 120

    def test_the_wire_core_loads_no_twisted_tls_or_klein(self) -> None:
        self.assertEqual(loaded_after("import htcpcp.message"), [])

    def test_the_pots_load_no_twisted_tls_or_klein(self) -> None:
        self.assertEqual(loaded_after("import htcpcp.pot"), [])

    def test_the_whole_wire_package_is_pure(self) -> None:
        self.assertEqual(
            loaded_after(
                "import htcpcp.message.requests, htcpcp.message.responses,"
                " htcpcp.message.writers, htcpcp.vocabulary, htcpcp.config"
            ),
            [],
        )

    def test_the_package_names_still_load_when_used(self) -> None:
        loaded = loaded_after("import htcpcp; htcpcp.makePotService")
        self.assertIn("twisted.application.service", loaded)
        self.assertNotIn("twisted.internet.reactor", loaded)

    def test_an_unknown_package_name_is_an_attribute_error(self) -> None:
        import htcpcp

        with self.assertRaises(AttributeError):
            htcpcp.no_such_name  # noqa: B018


class HostNameTests(TestCase):
    timeout = 60

    def setUp(self) -> None:
        self.lookups: list[str] = []

        def counting(kind: str, found: list[str]) -> Any:
            def look_up() -> list[str]:
                self.lookups.append(kind)
                return found

            return look_up

        self.patch(htcpcp.config, "host_names", counting("names", ["pot.example"]))
        self.patch(htcpcp.config, "local_addresses", counting("addresses", ["192.0.2.7"]))

    async def test_names_are_looked_up_at_service_start_not_before(self) -> None:
        service = makePotService(default_config(), ["tcp:0:interface=127.0.0.1"], self.mktemp())
        self.assertEqual(self.lookups, [])
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(sorted(self.lookups), ["addresses", "names"])
        assert service.server is not None
        self.assertIn("pot.example", service.server.dispatcher.names)
        self.assertIn("192.0.2.7", service.server.dispatcher.names)
