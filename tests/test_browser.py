"""
End-to-end tests in a real headless Chromium, driven by Selenium.

Each test starts a pot server and the web front end as two real C{twist
htcpcp} processes (the web over HTTPS with its generated certificate,
reaching the pot over loopback TCP), and Debian's C{chromium} through its
C{chromedriver}; nothing is downloaded.  Screenshots of the main pages are
saved under the directory printed at the start (C{HTCPCP_SCREENSHOTS}
chooses another).

Every page, in every pot state and both themes, is checked with axe-core
(the npm package, which C{.ci/run} installs into C{.ci/node}; C{HTCPCP_AXE}
names another C{axe.min.js}), injected through Selenium: no violation of
serious or critical impact, and no colour-contrast violation at all.

Without chromium, chromedriver, the selenium package or axe-core these
tests skip, saying why; with C{HTCPCP_REQUIRE_TOOLS=1} (as in CI) they fail
instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from .helpers import free_port, wait_for_port, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
POT_CONFIG = """\
[pot:ducky]
kind = coffee
brew-time = 5
pour-time = 30

[pot:tea]
kind = teapot
pour-time = 10
forbidden = peppermint:milk, green:milk, *:alcohol
coffee = never
"""
WAIT = 20.0
AXE = Path(
    os.environ.get(
        "HTCPCP_AXE",
        Path(__file__).parent.parent / ".ci/node/node_modules/axe-core/axe.min.js",
    )
)


def _missing_tools() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install selenium)")
    if not AXE.is_file():
        missing.append(f"axe-core at {AXE} (npm install --prefix .ci/node axe-core)")
    return ", ".join(missing) or None


MISSING = _missing_tools()


ANNOUNCED: set[Path] = set()


def screenshot_directory() -> Path:
    """Where screenshots go (said once): C{HTCPCP_SCREENSHOTS}, or the trial directory's."""
    directory = Path(os.environ.get("HTCPCP_SCREENSHOTS", "screenshots")).absolute()
    directory.mkdir(parents=True, exist_ok=True)
    if directory not in ANNOUNCED:
        ANNOUNCED.add(directory)
        print(f"\n*** browser screenshots are saved in {directory}", file=sys.stderr)
    return directory


class BrowserTestCase(SynchronousTestCase):
    """Starts the pot, the web front end and a browser; stops them all."""

    javascript = True
    web_options: tuple[str, ...] = ()

    def setUp(self) -> None:
        if MISSING:
            reason = f"BROWSER TESTS NOT RUN: missing {MISSING}"
            if os.environ.get("HTCPCP_REQUIRE_TOOLS") == "1":
                self.fail(reason + " (HTCPCP_REQUIRE_TOOLS=1)")
            print(f"\n*** {reason}", file=sys.stderr)
            raise SkipTest(reason)
        self.screenshots = screenshot_directory()
        self.work = Path(self.mktemp()).absolute()
        self.work.mkdir(parents=True)
        (self.work / "pots.ini").write_text(POT_CONFIG)
        self.pot_port, self.web_port = free_port(), free_port()
        self.pot_process = self.twist_pot()
        web = self.twist(
            "--web",
            f"ssl:{self.web_port}:interface=127.0.0.1",
            "--pot-at",
            f"tcp:127.0.0.1:{self.pot_port}",
            "--data-dir",
            str(self.work / "web"),
            *self.web_options,
        )
        self.driver = self.browser()
        wait_for_port(self.pot_port, self.pot_process, WAIT)
        wait_for_port(self.web_port, web, WAIT)
        self.base = f"https://localhost:{self.web_port}/"

    def twist(self, *arguments: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "twisted", "htcpcp", *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.addCleanup(self._stop, process)
        return process

    @staticmethod
    def _stop(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout:
            process.stdout.close()

    def twist_pot(self) -> subprocess.Popen[bytes]:
        return self.twist(
            "--pot",
            f"tcp:{self.pot_port}:interface=127.0.0.1",
            "--config",
            str(self.work / "pots.ini"),
            "--data-dir",
            str(self.work / "pot"),
        )

    def browser(self) -> Any:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in CHROMIUM_ARGUMENTS:
            options.add_argument(argument)
        options.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=self.work)}")
        options.add_argument("--window-size=1280,1000")
        options.accept_insecure_certs = True
        if not self.javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2}
            )
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.addCleanup(driver.quit)
        driver.set_page_load_timeout(WAIT)
        return driver

    # Helpers ------------------------------------------------------------

    def open(self, path: str = "") -> None:
        self.driver.get(self.base + path)

    def find(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def finds(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def until(self, condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        return wait_until(condition, what, timeout)

    def choose(self, selector: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(selector)).select_by_value(value)

    def heading(self) -> str:
        return self.find("h1").text

    def shoot(self, name: str) -> None:
        path = self.screenshots / f"{name}.png"
        self.assertTrue(self.driver.save_screenshot(str(path)), path)

    def shoot_both(self, name: str) -> None:
        """Screenshots of this page in the light and the dark theme."""
        for theme in ("light", "dark"):
            self.driver.execute_script(f"document.documentElement.dataset.theme = '{theme}';")
            self.shoot(f"{name}-{theme}")

    def check_accessibility(self, what: str) -> None:
        """axe-core on this page in both themes: nothing serious, no contrast failure."""
        for theme in ("light", "dark"):
            self.driver.execute_script(f"document.documentElement.dataset.theme = '{theme}';")
            if not self.driver.execute_script("return typeof axe !== 'undefined';"):
                self.driver.execute_script(AXE.read_text())
            found = self.driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "axe.run(document, {resultTypes: ['violations']})"
                ".then(r => done(r.violations.map(v => [v.id, v.impact,"
                " v.nodes.map(n => n.target.join(' ')).slice(0, 3)])))"
                ".catch(e => done([['axe-failed', 'critical', [String(e)]]]));"
            )
            bad = [v for v in found if v[1] in ("serious", "critical") or v[0] == "color-contrast"]
            self.assertEqual(bad, [], f"{what} ({theme})")

    def state_of(self, index: int) -> str:
        return self.find(f"#pot-{index}").get_attribute("data-state")

    def submit(self, selector: str) -> None:
        """Click what C{selector} finds and wait for the next page to load."""
        self.driver.execute_script("window.htcpcpPreviousPage = true;")
        self.find(selector).click()
        self.until(
            lambda: self.driver.execute_script(
                "return !window.htcpcpPreviousPage && document.readyState === 'complete';"
            ),
            f"the page after clicking {selector}",
        )

    def brew(self, pot: str, drink: str, additions: tuple[str, ...] = (), other: str = "") -> None:
        self.choose("#brew-pot", pot)
        self.choose("#brew-drink", drink)
        for addition in additions:
            self.find(f'#brew-form input[value="{addition}"]').click()
        if other:
            self.find("#brew-other").send_keys(other)
        self.submit(".button-brew")


class BrewFlowTests(BrowserTestCase):
    def test_coffee_with_milk_countdown_pour_say_when_then_history(self) -> None:
        self.open()
        self.assertEqual(self.heading(), "The pots")
        self.shoot_both("01-home")
        self.check_accessibility("home, idle")
        self.brew("0", "coffee", ("Cream",))
        self.until(lambda: self.state_of(0) == "brewing", "the brew to start")
        self.assertEqual(self.find("#live-note").text, "Brewing has started.")
        self.driver.execute_script("window.stillTheSamePage = true;")
        clock = self.find("#pot-0 [data-role=clock]")
        first = clock.text
        self.assertRegex(first, r"^0:0[1-5]$")
        self.shoot("02-brewing")
        self.check_accessibility("home while brewing")
        self.until(lambda: clock.text != first, "the countdown to tick")
        self.until(
            lambda: self.find("#pot-0 .action-when").is_displayed(),
            "the milk to pour and say-when to appear",
        )
        self.assertEqual(self.state_of(0), "pouring")
        self.assertEqual(self.find("#pot-0 [data-role=state]").text, "Pouring milk")
        self.assertTrue(self.driver.execute_script("return window.stillTheSamePage === true;"))
        self.shoot("03-pouring")
        self.check_accessibility("home while pouring")
        self.submit("#pot-0 .button-when")
        self.assertEqual(self.state_of(0), "ready")
        self.check_accessibility("home with a cup ready")
        self.assertEqual(self.find("#pot-0 [data-role=summary]").text, "Coffee with Cream")
        self.assertFalse(self.find("#pot-0 .action-when").is_displayed())
        self.submit('.site-nav a[href="./history"]')
        self.assertEqual(self.heading(), "History")
        row = self.find(".history-table tbody tr")
        self.assertIn("Cream", row.text)
        self.assertIn("ready", row.text)
        self.assertTrue(self.finds("svg.chart rect.bar"))
        self.shoot("04-history")
        self.check_accessibility("history")
        self.open("log")
        self.assertEqual(self.heading(), "History")
        self.open("beans/0")
        self.assertEqual(self.heading(), "Beans of ducky")
        self.assertTrue(self.find(".bean h2").text)
        self.shoot("05-beans")
        self.check_accessibility("beans")
        self.open("inspector")
        self.find(".exchange.method-when summary").click()
        self.assertIn("WHEN /pot-0 HTCPCP/1.1", self.find(".exchange.method-when pre").text)
        self.shoot("06-inspector")
        self.check_accessibility("inspector")
        self.open("test-501")
        self.assertEqual(self.find("#answer-status").text, "501 Not Implemented")
        self.shoot("07-diagnostic-501")
        self.check_accessibility("diagnostic 501")
        self.open("diagnostics")
        self.check_accessibility("diagnostics")

    def test_phone_sized_screen(self) -> None:
        self.driver.set_window_size(360, 780)
        self.open()
        columns = self.driver.execute_script(
            "return getComputedStyle(document.querySelector('.addition-grid'))"
            ".gridTemplateColumns.split(' ').length;"
        )
        self.assertEqual(columns, 2)
        overflow = self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;"
        )
        self.assertLessEqual(overflow, 0)
        self.assertTrue(self.find(".button-brew").is_displayed())
        self.shoot_both("08-phone-home")
        self.check_accessibility("home on a phone")
        self.open("history")
        self.shoot_both("09-phone-history")


class RefusalTests(BrowserTestCase):
    def test_teapot_refusal_and_not_acceptable_pages(self) -> None:
        self.open()
        self.choose("#brew-pot", "1")
        self.assertNotEqual(self.find("#brew-drink").get_attribute("value"), "coffee")
        self.assertFalse(self.find('#brew-form input[value="Whisky"]').is_displayed())
        self.assertTrue(self.find('#brew-form input[value="Lemon"]').is_displayed())
        self.brew("1", "coffee")
        self.assertEqual(self.heading(), "I'm a teapot")
        self.assertEqual(self.find(".error-code").text, "418")
        self.assertIn("/outcome/", self.driver.current_url)
        self.shoot("10-teapot-418")
        self.check_accessibility("418 page")
        self.driver.refresh()
        self.assertEqual(self.heading(), "I'm a teapot")
        self.open()
        self.brew("0", "coffee", other="Chamomile")
        self.assertEqual(self.heading(), "Not acceptable")
        additions = [item.text for item in self.finds("#pot-additions li")]
        self.assertIn("Whisky", additions)
        self.assertNotIn("Chamomile", additions)
        self.assertIn("ducky has no Chamomile.", self.find(".error-page").text)
        self.shoot("11-not-acceptable-406")
        self.check_accessibility("406 page")

    def test_a_form_without_its_csrf_token_is_refused(self) -> None:
        self.open()
        self.driver.execute_script(
            "document.querySelector('#brew-form input[name=__csrf_protection__]').remove();"
        )
        self.brew("0", "coffee")
        self.assertEqual(self.heading(), "Refused")
        self.assertEqual(self.find(".error-code").text, "403")
        self.shoot("12-csrf-refused-403")
        self.open()
        self.assertEqual(self.state_of(0), "idle")


class ThemeTests(BrowserTestCase):
    def background(self) -> str:
        return self.driver.execute_script(
            "return getComputedStyle(document.documentElement).backgroundColor;"
        )

    def test_theme_toggle(self) -> None:
        self.open()
        light = self.background()
        self.find('#theme-form button[value="dark"]').click()
        self.assertEqual(self.find("html").get_attribute("data-theme"), "dark")
        self.assertEqual(self.background(), "rgb(23, 17, 14)")
        self.assertNotEqual(self.background(), light)

        def remembered() -> bool:
            self.open("history")
            return self.find("html").get_attribute("data-theme") == "dark"

        self.until(remembered, "the dark theme to be remembered")
        self.assertEqual(
            self.find('#theme-form button[value="dark"]').get_attribute("aria-pressed"), "true"
        )
        self.shoot("13-dark-history")
        self.open()
        self.shoot("14-dark-home")
        self.find('#theme-form button[value="light"]').click()
        self.assertEqual(self.background(), "rgb(248, 243, 237)")


class WithoutJavaScriptTests(BrowserTestCase):
    javascript = False

    def test_forms_work_without_javascript(self) -> None:
        self.open()
        self.choose("#brew-pot", "1")
        self.assertTrue(self.find('#brew-form input[value="Whisky"]').is_displayed())
        self.brew("1", "earl-grey", ("Lemon",))
        self.assertEqual(self.state_of(1), "brewing")
        self.assertEqual(self.find("#pot-1 [data-role=summary]").text, "Earl-grey tea with Lemon")
        self.assertTrue(self.find("#pot-1 .action-stop").is_displayed())
        self.shoot("15-no-javascript")
        self.submit("#pot-1 .button-stop")
        self.assertEqual(self.find("#pot-1 [data-role=state]").text, "Stopped early")
        self.submit('#theme-form button[value="dark"]')
        self.assertEqual(self.find("html").get_attribute("data-theme"), "dark")


class PotAwayTests(BrowserTestCase):
    def test_pot_server_away_shows_503_then_the_page_recovers_by_itself(self) -> None:
        self.open()
        self.assertEqual(self.state_of(0), "idle")
        self._stop(self.pot_process)
        self.until(
            lambda: "cannot be reached" in self.find("#live-note").text,
            "the live page to say the pot server is away",
        )
        self.open()
        self.assertEqual(self.find(".problem-status").text, "503")
        self.assertEqual(self.find("#problem h2").text, "The pot server cannot be reached")
        self.assertEqual(self.state_of(0), "unknown")
        self.assertIn("unreachable since", self.find("#pot-0 [data-role=state]").text)
        self.assertFalse(self.find(".button-brew").is_enabled())
        self.shoot_both("16-pot-away-503")
        self.check_accessibility("home during an outage")
        self.pot_process = self.twist_pot()
        self.until(lambda: not self.finds("#problem"), "the page to recover by itself")
        self.until(lambda: self.state_of(0) == "idle", "the pots to be known again")


class InspectorDiagramTests(BrowserTestCase):
    web_options = ("--pot-connections", "per-request")

    def label_colour(self) -> str:
        return self.driver.execute_script(
            "return getComputedStyle(document.querySelector('svg.spacetime .sd-htcpcp-text')).fill;"
        )

    def test_the_space_time_diagram_of_per_request_connections(self) -> None:
        self.open()
        self.brew("0", "coffee", ("Cream",))
        self.open("inspector")
        svg = self.find("svg.spacetime")
        self.assertTrue(svg.is_displayed())
        self.assertIn(
            "This web front end and the pot server",
            self.find("svg.spacetime title").get_attribute("textContent"),
        )
        labels = [t.get_attribute("textContent") for t in self.finds("svg.spacetime .sd-label")]
        self.assertIn("BREW /pot-0 HTCPCP/1.1", labels)
        self.assertEqual(labels.count("SYN"), labels.count("FIN"))
        self.assertGreaterEqual(labels.count("SYN"), 2)
        heads = [t.get_attribute("textContent") for t in self.finds("svg.spacetime .sd-head")]
        self.assertEqual(
            heads[1:], [f"web front end :{self.web_port}", f"pot server :{self.pot_port}"]
        )
        colours = {}
        for theme in ("light", "dark"):
            self.driver.execute_script(f"document.documentElement.dataset.theme = '{theme}';")
            colours[theme] = self.label_colour()
        self.assertEqual(colours, {"light": "rgb(138, 75, 28)", "dark": "rgb(226, 164, 104)"})
        self.assertTrue(self.finds("svg.spacetime .sd-close-text"))
        self.shoot_both("17-inspector-diagram")
        self.check_accessibility("inspector with its diagram")
        self.driver.set_window_size(360, 780)
        overflow = self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;"
        )
        self.assertLessEqual(overflow, 0)
        scroller = self.find(".spacetime-scroll")
        self.assertGreater(
            self.driver.execute_script(
                "return arguments[0].scrollWidth - arguments[0].clientWidth;", scroller
            ),
            0,
        )
        self.assertTrue(self.find(".spacetime-box .scroll-hint").is_displayed())
        self.shoot_both("18-phone-inspector-diagram")
        self.check_accessibility("inspector with its diagram on a phone")


class AnnouncementAndFlowTests(BrowserTestCase):
    def test_changes_are_announced_once_and_a_double_click_brews_once(self) -> None:
        self.open()
        self.driver.execute_script(
            "window.said = [];"
            "new MutationObserver(() => window.said.push("
            "document.getElementById('live-note').textContent))"
            ".observe(document.getElementById('live-note'), {childList: true, characterData: true,"
            " subtree: true});"
        )
        self.choose("#brew-pot", "0")
        self.find('#brew-form input[value="Cream"]').click()
        self.driver.execute_script(
            "const b = document.querySelector('.button-brew'); b.click(); b.click();"
        )
        self.until(lambda: self.state_of(0) == "brewing", "the brew to start")
        self.until(lambda: self.state_of(0) == "pouring", "the milk to pour")
        self.driver.execute_script(
            "window.said = [];"
            "new MutationObserver(() => window.said.push("
            "document.getElementById('live-note').textContent))"
            ".observe(document.getElementById('live-note'), {childList: true, characterData: true,"
            " subtree: true});"
        )
        self.until(lambda: self.state_of(0) == "ready", "the milk to stop by itself", 40)
        said = self.driver.execute_script("return window.said;")
        self.assertEqual([text for text in said if text], ["ducky is ready."])
        self.open("inspector?show=changes")
        self.assertEqual(len(self.finds(".exchange.method-brew")), 1)
        self.open()
        self.assertEqual(self.find("#live-note").text, "")

    def test_an_idle_page_asks_the_pots_only_at_the_heartbeat(self) -> None:
        import json
        import urllib.request

        self.open()
        context = __import__("ssl")._create_unverified_context()

        def exchanges() -> int:
            with urllib.request.urlopen(self.base + "api/inspector", context=context) as answer:
                return len(json.load(answer)["exchanges"])

        before = exchanges()
        time.sleep(20)
        after = exchanges()
        self.assertLessEqual(after - before, 2 * 2)
