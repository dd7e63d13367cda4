"""Tests for configuration files and the default world."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.config import BEANS, ConfigError, default_config, load_config
from htcpcp.pot import CoffeeSupply, PotKind


class DefaultConfigTests(SynchronousTestCase):
    def test_lab_world(self) -> None:
        config = default_config()
        ducky, tea = config.pots
        self.assertEqual((ducky.name, ducky.kind, ducky.brew_time), ("ducky", PotKind.COFFEE, 30))
        self.assertEqual(
            (tea.name, tea.kind, tea.coffee), ("tea", PotKind.TEAPOT, CoffeeSupply.NEVER)
        )
        names = {a.name for a in ducky.additions}
        self.assertTrue({"Cream", "Whisky", "Sugar", "Xylitol", "Stevia", "Oat milk"} <= names)
        self.assertNotIn("tea", {n.lower() for n in names})
        self.assertEqual(len(BEANS), 10)
        self.assertIn("ducky", config.host_names())
        self.assertIn("localhost", config.host_names())


class LoadConfigTests(SynchronousTestCase):
    def test_pots_and_server(self) -> None:
        config = load_config(
            "[server]\nnames = kitchen, Office\nidle-timeout = 5\n"
            "[pot:big]\nbrew-time = 5\n"
            "[pot:green]\nkind = teapot\nvarieties = sencha:60, matcha\ncoffee = out\n"
            "forbidden = matcha:milk\n"
        )
        big, green = config.pots
        self.assertEqual((big.brew_time, green.coffee), (5, CoffeeSupply.OUT))
        self.assertEqual(
            [(v.name, v.steep_time) for v in green.varieties], [("sencha", 60), ("matcha", 180)]
        )
        self.assertEqual(green.forbidden, (("matcha", "milk"),))
        self.assertEqual((config.names, config.idle_timeout), ({"kitchen", "Office"}, 5))
        self.assertIn("office", config.host_names())

    def test_errors_name_the_place(self) -> None:
        cases = {
            "[pot:a]\nbrew-time = soon\n": "brew-time",
            "[pot:a]\nkind = kettle\n": "kettle",
            "[pot:log]\n": "log",
            "[pot:a]\n[pot:A]\n": "same name",
            "not ini": "",
            "[pot:a]\nvarieties = x:y\n": "steep time",
        }
        for text, fragment in cases.items():
            error = self.assertRaises(ConfigError, load_config, text)
            self.assertIn(fragment, str(error), text)

    def test_brew_time_override_spares_teapots(self) -> None:
        config = default_config().with_brew_time(3)
        self.assertEqual([p.brew_time for p in config.pots], [3, 180])
