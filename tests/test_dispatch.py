"""Tests for the dispatcher: resources, methods, values and recording, on pots specified here."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from htcpcp.dispatch import SAFE, Dispatcher, Reply
from htcpcp.message import Request
from htcpcp.pot import Addition, Bean, Brew, CoffeeSupply, Pot, PotKind, PotSpec, State, Variety
from htcpcp.representations import lab_time

T0 = 1_700_000_000.0
"""Tue, 14 Nov 2023 22:13:20 UTC."""
CREAM = Addition("Cream", "milk")
WHOLE_MILK = Addition("Whole-milk", "milk")
RUM = Addition("Rum", "alcohol")
HONEY = Addition("Honey", "sweetener")
COFFEE_POT = PotSpec("ducky", PotKind.COFFEE, 30.0, 10.0, (CREAM, WHOLE_MILK, RUM))
TEAPOT = PotSpec(
    "kettle",
    PotKind.TEAPOT,
    180.0,
    12.0,
    (CREAM, RUM, HONEY),
    (Variety("green", 120.0), Variety("oolong", 45.0)),
    (("green", "milk"), ("*", "alcohol"), ("oolong", "honey")),
    CoffeeSupply.NEVER,
)
ARABICA = Bean("Yirgacheffe", "floral", "Ethiopia", "arabica", 3, "light")
PAGING_RULES = (
    "page must be 1 to 1,000,000,000, per_page 1 to 200, before a brew's seq (a page's next)"
)
ALL_METHODS = "BREW, POST, GET, HEAD, PROPFIND, WHEN, OPTIONS"
READ_ONLY_METHODS = "GET, HEAD, OPTIONS"
COFFEE = {"content-type": "message/coffeepot"}
LAB = {"content-type": "application/coffee-pot-command"}
TEA = {"content-type": "message/teapot"}


class FakeHistory:
    """A history whose writes complete (or fail) when the test says."""

    def __init__(self) -> None:
        self.writes: list[tuple[Brew, Deferred[None]]] = []
        self.pages: list[tuple[str | None, int, int]] = []

    def record(self, brew: Brew) -> Deferred[None]:
        write: Deferred[None] = Deferred()
        self.writes.append((brew, write))
        return write

    def page(self, pot: str | None, page: int, per_page: int) -> Deferred[dict[str, Any]]:
        self.pages.append((pot, page, per_page))
        return succeed({"page": page, "brews": []})


def in_utc(case: SynchronousTestCase) -> None:
    """Run C{case} with local time as UTC, so lab times are known."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()

    def restore() -> None:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()

    case.addCleanup(restore)


class DispatcherCase(SynchronousTestCase):
    """A coffee pot and a teapot on a clock at L{T0}, without a history unless asked."""

    def setUp(self) -> None:
        in_utc(self)
        self.build()

    def build(self, *specs: PotSpec, history: FakeHistory | None = None) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.pots = [
            Pot(spec, index, self.clock, (ARABICA,))
            for index, spec in enumerate(specs or (COFFEE_POT, TEAPOT))
        ]
        self.history = history
        self.dispatcher = Dispatcher(
            self.pots,
            frozenset({"ducky", "kitchen.example"}),
            history,  # type: ignore[arg-type]
        )

    def ask(
        self,
        method: str,
        target: str = "/",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        reply = self.dispatcher.handle(Request(method, target, "HTCPCP/1.1", headers or {}, body))
        if isinstance(reply, Deferred):
            reply = self.successResultOf(reply)
        return reply

    def json(self, *args: Any, **kwargs: Any) -> Any:
        reply = self.ask(*args, **kwargs)
        self.assertEqual((reply.status, reply.content_type), (200, "application/json"), reply)
        return json.loads(reply.body)

    def assertText(self, reply: Reply, status: int, text: str) -> None:
        self.assertEqual(
            (reply.status, reply.content_type, reply.body),
            (status, "text/plain; charset=utf-8", text.encode() + b"\n"),
        )


class ResourceTests(DispatcherCase):
    def test_one_past_the_last_pot(self) -> None:
        self.assertText(self.ask("GET", "/pot-2"), 404, "there is no pot 'pot-2' here")

    def test_the_last_pot(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-1").status, 200)

    def test_unknown_pot_name(self) -> None:
        self.assertText(self.ask("GET", "/psyduck"), 404, "there is no pot 'psyduck' here")

    def test_pot_by_name_in_any_case(self) -> None:
        self.assertEqual(self.json("PROPFIND", "/KETTLE")["pot"]["name"], "kettle")

    def test_pot_number_with_leading_zeros(self) -> None:
        self.assertEqual(self.json("PROPFIND", "/pot-000000001")["pot"]["name"], "kettle")

    def test_pot_number_of_ten_digits(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-0000000001").status, 404)

    def test_pot_number_of_thousands_of_digits(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-" + "9" * 5000).status, 404)

    def test_pot_number_not_ascii_digits(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-\u0661").status, 404)

    def test_pot_number_not_a_number(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-x").status, 404)

    def test_use_pot_header(self) -> None:
        self.assertEqual(
            self.json("PROPFIND", "/", {"use-pot": " kettle "})["pot"]["name"], "kettle"
        )
        self.assertEqual(self.json("PROPFIND", "/", {"use-pot": "pot-1"})["pot"]["index"], 1)

    def test_unknown_use_pot(self) -> None:
        self.assertEqual(self.ask("GET", "/", {"use-pot": "psyduck"}).status, 404)

    def test_first_pot_by_default(self) -> None:
        self.assertEqual(self.json("PROPFIND", "coffee://ducky")["pot"]["name"], "ducky")

    def test_path_wins_over_use_pot(self) -> None:
        self.assertEqual(
            self.json("PROPFIND", "/pot-0", {"use-pot": "kettle"})["pot"]["name"], "ducky"
        )

    def test_too_deep_a_path(self) -> None:
        self.assertText(self.ask("GET", "/pot-1/green/more"), 404, "no such resource")

    def test_unknown_variety(self) -> None:
        self.assertText(self.ask("GET", "/pot-1/mint"), 404, "pot kettle has no variety 'mint'")

    def test_variety_in_any_case(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-1/GREEN").status, 200)

    def test_host_not_ours(self) -> None:
        self.assertText(
            self.ask("GET", "coffee://teapot.example/"),
            404,
            "this server does not answer to 'teapot.example'",
        )

    def test_every_host_name_of_ours(self) -> None:
        for host in ("ducky", "kitchen.example", "KITCHEN.example."):
            self.assertEqual(self.ask("GET", f"koffie://{host}/pot-0").status, 200, host)

    def test_http_absolute_form(self) -> None:
        self.assertEqual(self.json("PROPFIND", "http://ducky/pot-1")["pot"]["name"], "kettle")

    def test_unknown_scheme(self) -> None:
        self.assertText(
            self.ask("GET", "caffeine://ducky/"), 400, "'caffeine' is not a coffee URL scheme"
        )

    def test_unknown_method(self) -> None:
        self.assertText(
            self.ask("STEEP", "/pot-1"),
            501,
            f"STEEP is not an HTCPCP method; try one of: {ALL_METHODS}",
        )

    def test_same_target_answered_the_same_twice(self) -> None:
        for _ in range(2):
            self.assertEqual(self.ask("GET", "/psyduck").status, 404)
            self.assertEqual(self.json("PROPFIND", "/pot-1")["pot"]["name"], "kettle")


class MethodTests(DispatcherCase):
    def test_options_on_a_pot(self) -> None:
        reply = self.ask("OPTIONS", "/pot-0")
        self.assertEqual(
            (reply.status, reply.body, reply.headers), (200, b"", (("Allow", ALL_METHODS),))
        )

    def test_safe_header_per_method(self) -> None:
        self.assertEqual(
            dict(SAFE),
            {
                "GET": "yes",
                "HEAD": "yes",
                "PROPFIND": "yes",
                "OPTIONS": "yes",
                "BREW": "no",
                "POST": "no",
                "WHEN": "no",
            },
        )

    def test_a_reply_of_a_status_alone_is_empty_json(self) -> None:
        self.assertEqual(Reply(204), (204, b"", "application/json", (), None))

    def test_head_is_answered_like_get(self) -> None:
        self.assertEqual(self.ask("HEAD", "/pot-0"), self.ask("GET", "/pot-0"))

    def test_post_brews_like_brew(self) -> None:
        self.assertEqual(self.json("POST", "/pot-0", COFFEE, b"start")["beverage_type"], "Coffee")

    def test_post_is_logged_as_deprecated(self) -> None:
        with capturedLogs() as events:
            self.ask("POST", "/pot-0", COFFEE, b"start")
        self.assertEqual(
            [formatEvent(event) for event in events],
            ["POST to ducky is deprecated (RFC 2324 2.1.1): use BREW"],
        )


class MediaTypeTests(DispatcherCase):
    def test_any_method_with_a_foreign_type(self) -> None:
        for method in ("GET", "HEAD", "PROPFIND", "WHEN", "OPTIONS", "BREW"):
            reply = self.ask(method, "/pot-0", {"content-type": "text/plain"}, b"start")
            self.assertText(
                reply,
                415,
                "Content-Type 'text/plain' is not an HTCPCP type: use message/coffeepot,"
                " application/coffee-pot-command or message/teapot",
            )

    def test_foreign_type_on_the_log_and_the_pots(self) -> None:
        for target in ("/log", "/pots"):
            reply = self.ask("GET", target, {"content-type": "application/json"})
            self.assertEqual(reply.status, 415, target)

    def test_types_in_any_case_with_parameters(self) -> None:
        for media in (
            "Message/CoffeePot; charset=utf-8",
            " APPLICATION/COFFEE-POT-COMMAND ",
            "message/teapot;x=1",
        ):
            self.assertEqual(self.ask("GET", "/pot-0", {"content-type": media}).status, 200)

    def test_brew_without_a_type(self) -> None:
        self.assertText(
            self.ask("BREW", "/pot-0", {}, b"start"),
            415,
            "BREW needs Content-Type: message/coffeepot (or message/teapot for tea)",
        )

    def test_tea_to_a_coffee_pot(self) -> None:
        self.assertText(
            self.ask("BREW", "/pot-0", TEA, b"start"),
            415,
            "pot ducky is a coffee pot: send message/coffeepot",
        )


class TeaAtTheRootTests(DispatcherCase):
    def test_tea_asked_at_the_root_is_offered_the_teas(self) -> None:
        for target in ("/", "coffee://ducky", "coffee://ducky/"):
            reply = self.ask("BREW", target, TEA, b"start")
            self.assertText(reply, 300, "choose a tea")
            self.assertEqual(reply.headers, (("Alternates", self.dispatcher.alternates),))
        self.assertEqual(self.pots[0].state, State.IDLE)

    def test_tea_asked_of_the_coffee_pot_by_name(self) -> None:
        reply = self.ask("BREW", "/", {**TEA, "use-pot": "ducky"}, b"start")
        self.assertEqual(reply.status, 415)


class BrewTests(DispatcherCase):
    def test_body_must_be_a_command(self) -> None:
        for body in (b"", b"espresso", b"start now"):
            self.assertText(
                self.ask("BREW", "/pot-0", COFFEE, body),
                400,
                'the body of a BREW must be "start" or "stop"',
            )

    def test_command_in_any_case_with_blanks(self) -> None:
        self.assertEqual(self.json("BREW", "/pot-0", COFFEE, b" START \r\n")["state"], "brewing")

    def test_alternates_for_message_coffeepot(self) -> None:
        reply = self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.assertEqual(
            reply.headers,
            (
                (
                    "Alternates",
                    '{"/" {type message/coffeepot}}, '
                    '{"/pot-1/green" {type message/teapot}}, '
                    '{"/pot-1/oolong" {type message/teapot}}',
                ),
            ),
        )

    def test_alternates_list_a_teapot_that_brews_coffee(self) -> None:
        coffee_teapot = PotSpec(
            "urn", PotKind.TEAPOT, 60.0, 5.0, (), (Variety("mint", 30.0),), (), CoffeeSupply.YES
        )
        self.build(COFFEE_POT, coffee_teapot)
        self.assertEqual(
            self.dispatcher.alternates,
            '{"/" {type message/coffeepot}}, {"/pot-1" {type message/coffeepot}}, '
            '{"/pot-1/mint" {type message/teapot}}',
        )

    def test_no_alternates_for_the_lab_type(self) -> None:
        self.assertEqual(self.ask("BREW", "/pot-0", LAB, b"start").headers, ())

    def test_busy_brewing(self) -> None:
        self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.clock.advance(12.5)
        reply = self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.assertText(reply, 409, "pot ducky is busy brewing: try again in 18 s")
        self.assertEqual(reply.headers, (("Retry-After", "18"),))

    def test_busy_pouring_milk(self) -> None:
        self.ask("BREW", "/pot-0", {**COFFEE, "accept-additions": "Cream"}, b"start")
        self.clock.advance(33)
        reply = self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.assertText(reply, 409, "pot ducky is busy pouring milk: try again in 7 s")

    def test_retry_after_is_at_least_a_second(self) -> None:
        self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.clock.rightNow += 31
        self.assertEqual(
            self.ask("BREW", "/pot-0", COFFEE, b"start").headers, (("Retry-After", "1"),)
        )

    def test_stop_an_empty_pot(self) -> None:
        self.assertText(
            self.ask("BREW", "/pot-0", COFFEE, b"stop"), 409, "pot ducky is empty: nothing to stop"
        )

    def test_stop_while_brewing(self) -> None:
        self.ask("BREW", "/pot-0", COFFEE, b"start")
        self.clock.advance(6)
        stopped = self.json("BREW", "/pot-0", COFFEE, b"stop")
        self.assertEqual(
            (stopped["state"], stopped["outcome"], stopped["strength"]),
            ("ready", "stopped", 0.2),
        )
        self.assertEqual(stopped["stopped_at"], "2023-11-14T22:13:26Z")

    def test_stop_a_finished_brew_takes_it_away(self) -> None:
        started = self.json("BREW", "/pot-0", LAB, b"start")
        self.clock.advance(30)
        self.assertEqual(self.json("GET", "/pot-0")["state"], "ready")
        taken = self.json("BREW", "/pot-0", LAB, b"stop")
        self.assertEqual((taken["id"], taken["outcome"]), (started["id"], "ready"))
        self.assertEqual(self.json("GET", "/pot-0"), {})
        self.assertEqual(self.pots[0].state, State.IDLE)

    def test_teapot_never_brews_coffee(self) -> None:
        self.assertText(
            self.ask("BREW", "/pot-1", COFFEE, b"start"),
            418,
            "I'm a teapot: kettle brews tea, not coffee",
        )

    def test_teapot_out_of_coffee(self) -> None:
        out = PotSpec("urn", PotKind.TEAPOT, 60.0, 5.0, (), (), (), CoffeeSupply.OUT)
        self.build(out)
        reply = self.ask("BREW", "/", COFFEE, b"start")
        self.assertText(reply, 503, "urn is out of coffee for now")
        self.assertEqual(reply.headers, (("Retry-After", "3600"),))

    def test_teapot_that_also_brews_coffee(self) -> None:
        urn = PotSpec("urn", PotKind.TEAPOT, 60.0, 5.0, (), (), (), CoffeeSupply.YES)
        self.build(urn)
        status = self.json("BREW", "/", LAB, b"start")
        self.assertEqual(
            (status["beverage_type"], status["brew_time_end"]),
            ("Coffee", "Tue, 14 Nov 2023 22:14:20"),
        )

    def test_tea_without_a_variety(self) -> None:
        reply = self.ask("BREW", "/pot-1", TEA, b"start")
        self.assertText(reply, 300, "choose a variety of pot kettle: green, oolong")
        self.assertEqual(reply.headers, (("Alternates", self.dispatcher.alternates),))
        self.assertEqual(self.pots[1].state, State.IDLE)

    def test_tea_of_a_variety(self) -> None:
        status = self.json("BREW", "/pot-1/Oolong", TEA, b"start")
        self.assertEqual(
            (status["beverage_type"], status["variety"], status["brew_time_end"]),
            ("Tea", "oolong", "Tue, 14 Nov 2023 22:14:05"),
        )


class AdditionTests(DispatcherCase):
    def brew(self, target: str, additions: str, media: dict[str, str] = COFFEE) -> Reply:
        return self.ask("BREW", target, {**media, "accept-additions": additions}, b"start")

    def test_additions_as_sent(self) -> None:
        status = self.json(
            "BREW", "/pot-0", {**LAB, "accept-additions": "whole-milk; rum"}, b"start"
        )
        self.assertEqual((status["additions"], status["milk"]), (["whole-milk", "rum"], True))

    def test_additions_in_the_query(self) -> None:
        status = self.json("BREW", "/pot-0?Rum,Cream", COFFEE, b"start")
        self.assertEqual(status["additions"], ["Rum", "Cream"])

    def test_unknown_addition(self) -> None:
        self.assertText(self.brew("/pot-0", "Cream, Chocolate"), 406, "Cream, Whole-milk, Rum")
        self.assertEqual(self.pots[0].state, State.IDLE)

    def test_unknown_addition_to_head_has_no_body(self) -> None:
        reply = self.ask("HEAD", "/pot-0", {"accept-additions": "Chocolate"})
        self.assertEqual((reply.status, reply.body), (406, b""))

    def test_malformed_header_through_the_server(self) -> None:
        self.assertText(
            self.brew("/pot-0", "Cream;q=2"),
            400,
            "Accept-Additions: q value '2' is not a number between 0 and 1",
        )

    def test_get_with_additions_in_the_query(self) -> None:
        self.assertEqual(self.json("GET", "/pot-0?Cream"), {})
        self.assertEqual(self.ask("GET", "/pot-0?Chocolate").status, 406)

    def test_get_with_an_additions_header(self) -> None:
        self.assertEqual(self.ask("GET", "/pot-0", {"accept-additions": "Chocolate"}).status, 406)
        self.assertEqual(self.ask("GET", "/pot-0", {"accept-additions": "Rum"}).status, 200)

    def test_forbidden_kind_in_a_variety(self) -> None:
        self.assertText(
            self.brew("/pot-1/green", "Cream", TEA), 403, "Cream in green is not done here"
        )

    def test_forbidden_kind_in_every_tea(self) -> None:
        for variety in ("green", "oolong"):
            self.assertText(
                self.brew(f"/pot-1/{variety}", "Rum", TEA),
                403,
                f"Rum in {variety} is not done here",
            )

    def test_forbidden_addition_by_name(self) -> None:
        self.assertEqual(self.brew("/pot-1/oolong", "HONEY", TEA).status, 403)
        self.assertEqual(self.brew("/pot-1/green", "Honey", TEA).status, 200)

    def test_forbidden_in_coffee(self) -> None:
        strict = PotSpec(
            "ducky", PotKind.COFFEE, 30.0, 10.0, (CREAM, RUM), (), (("coffee", "rum"),)
        )
        self.build(strict)
        self.assertText(self.brew("/pot-0", "Rum"), 403, "Rum in coffee is not done here")
        self.assertEqual(self.brew("/pot-0", "Cream").status, 200)

    def test_allowed_combinations(self) -> None:
        self.assertEqual(self.brew("/pot-1/oolong", "Cream", TEA).status, 200)
        self.assertEqual(self.brew("/pot-0", "Rum, Cream").status, 200)

    def test_forbidden_rules_by_variety_name_folded(self) -> None:
        spec = PotSpec(
            "kettle",
            PotKind.TEAPOT,
            60.0,
            5.0,
            (CREAM,),
            (Variety("earl grey", 60.0),),
            (("Earl_Grey", "cream"),),
        )
        self.build(spec)
        self.assertEqual(self.brew("/pot-0/earl%20grey", "Cream", TEA).status, 403)

    def test_forbidden_everything_in_a_variety(self) -> None:
        spec = PotSpec(
            "kettle",
            PotKind.TEAPOT,
            60.0,
            5.0,
            (CREAM,),
            (Variety("white", 60.0),),
            (("white", "*"),),
        )
        self.build(spec)
        self.assertEqual(self.brew("/pot-0/white", "Cream", TEA).status, 403)
        self.assertEqual(self.ask("BREW", "/pot-0/white", TEA, b"start").status, 200)


class StatusTests(DispatcherCase):
    def test_an_empty_pot(self) -> None:
        self.assertEqual(self.json("GET", "/pot-0"), {})

    def test_a_coffee_with_milk(self) -> None:
        self.ask("BREW", "/pot-0", {**LAB, "accept-additions": "cream"}, b"start")
        self.clock.advance(12.25)
        self.assertEqual(
            self.json("GET", "/pot-0"),
            {
                "date": "Tue, 14 Nov 2023 22:13:20",
                "beverage_type": "Coffee",
                "additions": ["cream"],
                "brew_time_end": "Tue, 14 Nov 2023 22:13:50",
                "pour_milk_start": "Tue, 14 Nov 2023 22:13:50",
                "pour_milk_stop": False,
                "coffee_bean": {
                    "name": "Yirgacheffe",
                    "profile": "floral",
                    "origin": "Ethiopia",
                    "type": "arabica",
                    "strength": 3,
                    "roast": "light",
                },
                "id": self.pots[0].current.id,  # type: ignore[union-attr]
                "pot": "ducky",
                "pot_index": 0,
                "state": "brewing",
                "outcome": "brewing",
                "variety": None,
                "milk": True,
                "strength": 1.0,
                "seconds_left": 17.75,
                "started_at": "2023-11-14T22:13:20Z",
                "brew_end_at": "2023-11-14T22:13:50Z",
                "pour_start_at": None,
                "pour_stop_at": None,
                "stopped_at": None,
            },
        )

    def test_milk_times_once_poured(self) -> None:
        self.ask("BREW", "/pot-0", {**LAB, "accept-additions": "cream"}, b"start")
        self.clock.advance(33)
        said = self.json("WHEN", "/pot-0")
        self.assertEqual(
            (said["pour_milk_stop"], said["pour_start_at"], said["pour_stop_at"], said["state"]),
            (True, "2023-11-14T22:13:50Z", "2023-11-14T22:13:53Z", "ready"),
        )

    def test_no_milk_times_without_milk(self) -> None:
        status = self.json("BREW", "/pot-0", LAB, b"start")
        self.assertEqual((status["pour_milk_start"], status["pour_milk_stop"]), ("", False))

    def test_tea_has_no_bean(self) -> None:
        status = self.json("BREW", "/pot-1/green", TEA, b"start")
        self.assertEqual((status["beverage_type"], status["coffee_bean"]), ("Tea", {}))

    def test_seconds_left_to_the_millisecond(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        self.clock.advance(0.1234)
        self.assertEqual(self.json("GET", "/pot-0")["seconds_left"], 29.877)

    def test_a_taken_away_brew_has_nothing_left(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        self.clock.advance(30)
        taken = self.json("BREW", "/pot-0", LAB, b"stop")
        self.assertEqual((taken["state"], taken["seconds_left"]), ("ready", 0))

    def test_lab_time_of_no_time_is_empty(self) -> None:
        self.assertEqual(lab_time(None), "")
        self.assertEqual(lab_time(T0), "Tue, 14 Nov 2023 22:13:20")

    def test_get_idle_then_brew_then_get_again(self) -> None:
        self.assertEqual(self.json("GET", "/pot-0"), {})
        self.ask("BREW", "/pot-0", LAB, b"start")
        self.assertEqual(self.json("GET", "/pot-0")["state"], "brewing")

    def test_two_gets_during_one_brew_count_down(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        self.clock.advance(5)
        self.assertEqual(self.json("GET", "/pot-0")["seconds_left"], 25)
        self.clock.advance(5)
        self.assertEqual(self.json("GET", "/pot-0")["seconds_left"], 20)

    def test_get_after_the_brew_is_ready(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        self.clock.advance(10)
        self.json("GET", "/pot-0")
        self.clock.advance(20)
        ready = self.json("GET", "/pot-0")
        self.assertEqual((ready["state"], ready["seconds_left"]), ("ready", 0))
        self.assertEqual(self.json("GET", "/pot-0"), ready)

    def test_json_is_compact(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        body = self.ask("GET", "/pot-0").body
        self.assertIn(b'"state":"brewing","outcome"', body)
        self.assertNotIn(b'": ', body)


class PropfindTests(DispatcherCase):
    def test_bean_at_the_top_and_the_pot_below(self) -> None:
        self.assertEqual(
            self.json("PROPFIND", "/pot-0"),
            {
                "name": "Yirgacheffe",
                "profile": "floral",
                "origin": "Ethiopia",
                "type": "arabica",
                "strength": 3,
                "roast": "light",
                "pot": {
                    "name": "ducky",
                    "index": 0,
                    "kind": "coffee",
                    "state": "idle",
                    "brew_time": 30.0,
                    "pour_time": 10.0,
                    "additions": ["Cream", "Whole-milk", "Rum"],
                    "varieties": {},
                },
                "bean": None,
                "beverage": None,
                "variety": None,
            },
        )

    def test_while_brewing_tea(self) -> None:
        self.ask("BREW", "/pot-1/green", TEA, b"start")
        found = self.json("PROPFIND", "/pot-1")
        self.assertEqual(
            (found["bean"], found["beverage"], found["variety"], found["pot"]["state"]),
            (None, "tea", "green", "brewing"),
        )
        self.assertEqual(found["pot"]["varieties"], {"green": 120.0, "oolong": 45.0})

    def test_while_brewing_coffee(self) -> None:
        self.ask("BREW", "/pot-0", LAB, b"start")
        found = self.json("PROPFIND", "/pot-0")
        self.assertEqual((found["bean"]["name"], found["beverage"]), ("Yirgacheffe", "coffee"))


class WhenTests(DispatcherCase):
    def test_when_nothing_pours(self) -> None:
        self.assertText(
            self.ask("WHEN", "/pot-0"),
            409,
            "no milk is pouring from pot ducky: nothing to say when to",
        )


class ReadOnlyResourceTests(DispatcherCase):
    def test_pots_listing(self) -> None:
        pots = self.json("GET", "/pots")["pots"]
        self.assertEqual(
            [(p["name"], p["index"], p["kind"]) for p in pots],
            [("ducky", 0, "coffee"), ("kettle", 1, "teapot")],
        )

    def test_pots_listing_is_read_only(self) -> None:
        reply = self.ask("BREW", "/pots", COFFEE, b"start")
        self.assertText(reply, 405, f"the list of pots is read-only: {READ_ONLY_METHODS}")
        self.assertEqual(reply.headers, (("Allow", READ_ONLY_METHODS),))

    def test_options_on_read_only_resources(self) -> None:
        for target in ("/log", "/pots"):
            reply = self.ask("OPTIONS", target)
            self.assertEqual(
                (reply.status, reply.body, reply.headers),
                (200, b"", (("Allow", READ_ONLY_METHODS),)),
            )

    def test_log_without_a_history(self) -> None:
        self.assertText(self.ask("GET", "/log"), 404, "this server keeps no history")

    def test_log_is_read_only(self) -> None:
        self.assertText(self.ask("WHEN", "/log"), 405, f"the log is read-only: {READ_ONLY_METHODS}")


class LogTests(DispatcherCase):
    def setUp(self) -> None:
        in_utc(self)
        self.build(history=FakeHistory())

    def page(self, query: str) -> tuple[int, tuple[str | None, int, int] | None]:
        assert self.history is not None
        self.history.pages.clear()
        reply = self.ask("GET", "/log" + query)
        return reply.status, (self.history.pages or [None])[0]

    def test_defaults(self) -> None:
        self.assertEqual(self.page(""), (200, (None, 1, 50)))
        self.assertEqual(self.json("GET", "/log"), {"page": 1, "brews": []})

    def test_pot_filter(self) -> None:
        self.assertEqual(self.page("?pot=kettle&page=3"), (200, ("kettle", 3, 50)))

    def test_per_page_bounds(self) -> None:
        self.assertEqual(self.page("?per_page=1"), (200, (None, 1, 1)))
        self.assertEqual(self.page("?per_page=200"), (200, (None, 1, 200)))
        for per_page in ("0", "201"):
            self.assertEqual(self.page(f"?per_page={per_page}"), (400, None), per_page)

    def test_page_bounds(self) -> None:
        self.assertEqual(self.page("?page=1000000000"), (200, (None, 1_000_000_000, 50)))
        self.assertEqual(self.page("?page=1000000001"), (400, None))
        self.assertText(self.ask("GET", "/log?page=0"), 400, PAGING_RULES)

    def test_values_that_are_not_whole_numbers(self) -> None:
        for query in ("?page=abc", "?per_page=1.5", "?page=-1", "?page=", "?page=" + "9" * 11):
            self.assertText(self.ask("GET", "/log" + query), 400, PAGING_RULES)

    def test_ten_digit_values_are_numbers(self) -> None:
        self.assertEqual(self.page("?page=0000000001"), (200, (None, 1, 50)))


class RecordingTests(DispatcherCase):
    history: FakeHistory

    def setUp(self) -> None:
        in_utc(self)
        self.history = FakeHistory()
        self.build(history=self.history)

    def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> Deferred[Reply]:
        reply = self.dispatcher.handle(Request(method, target, "HTCPCP/1.1", headers, body))
        assert isinstance(reply, Deferred), reply
        return reply

    def recorded_brew(self, headers: dict[str, str] = LAB) -> None:
        """Start a brew on pot-0 and let its write succeed."""
        start = self.send("BREW", "/pot-0", headers, b"start")
        self.history.writes[0][1].callback(None)
        self.successResultOf(start)

    def recorded_pouring(self) -> None:
        """A brew with cream, done and pouring, both writes made."""
        self.recorded_brew({**LAB, "accept-additions": "cream"})
        self.clock.advance(30)
        self.history.writes[1][1].callback(None)

    def test_reply_waits_for_its_write(self) -> None:
        reply = self.send("BREW", "/pot-0", LAB, b"start")
        self.assertNoResult(reply)
        [(brew, write)] = self.history.writes
        self.assertEqual(brew.outcome, "brewing")
        write.callback(None)
        self.assertEqual(self.successResultOf(reply).status, 200)

    def test_failed_write_undoes_the_brew(self) -> None:
        reply = self.send("BREW", "/pot-0", LAB, b"start")
        self.history.writes[0][1].errback(OSError("disk full"))
        answer = self.successResultOf(reply)
        self.assertText(
            answer,
            503,
            "the brew history could not be written, so nothing was changed; try again",
        )
        self.assertEqual(answer.headers, (("Retry-After", "5"),))
        self.assertEqual((self.pots[0].state, self.pots[0].current), (State.IDLE, None))
        self.assertEqual(self.ask("GET", "/pot-0").body, b"{}")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_failed_stop_leaves_it_brewing(self) -> None:
        self.recorded_brew()
        self.clock.advance(5)
        stop = self.send("BREW", "/pot-0", LAB, b"stop")
        self.history.writes[1][1].errback(OSError("locked"))
        self.assertEqual(self.successResultOf(stop).status, 503)
        self.assertEqual(self.pots[0].state, State.BREWING)
        self.assertEqual(self.json("GET", "/pot-0")["seconds_left"], 25)
        self.flushLoggedErrors(OSError)

    def test_failed_when_keeps_the_milk_pouring(self) -> None:
        self.recorded_pouring()
        when = self.send("WHEN", "/pot-0", {})
        self.history.writes[2][1].errback(OSError("locked"))
        self.assertEqual(self.successResultOf(when).status, 503)
        self.assertEqual(self.pots[0].state, State.POURING)
        self.flushLoggedErrors(OSError)

    def test_a_status_read_during_a_failed_stop_is_not_kept(self) -> None:
        self.recorded_brew()
        stop = self.send("BREW", "/pot-0", LAB, b"stop")
        self.assertEqual(self.json("GET", "/pot-0")["outcome"], "stopped")
        self.history.writes[1][1].errback(OSError("locked"))
        self.assertEqual(self.successResultOf(stop).status, 503)
        self.assertEqual(self.json("GET", "/pot-0")["state"], "brewing")
        self.flushLoggedErrors(OSError)

    def test_a_status_read_during_a_failed_when_is_not_kept(self) -> None:
        self.recorded_pouring()
        when = self.send("WHEN", "/pot-0", {})
        self.assertEqual(self.json("GET", "/pot-0")["state"], "ready")
        self.history.writes[2][1].errback(OSError("locked"))
        self.assertEqual(self.successResultOf(when).status, 503)
        self.assertEqual(self.json("GET", "/pot-0")["state"], "pouring")
        self.flushLoggedErrors(OSError)

    def test_changes_to_one_pot_wait_their_turn(self) -> None:
        first = self.send("BREW", "/pot-0", LAB, b"start")
        second = self.send("BREW", "/pot-0", LAB, b"start")
        self.assertEqual(len(self.history.writes), 1)
        self.history.writes[0][1].callback(None)
        self.assertEqual(self.successResultOf(first).status, 200)
        self.assertEqual(self.successResultOf(second).status, 409)

    def test_a_later_change_runs_after_an_earlier_failed(self) -> None:
        first = self.send("BREW", "/pot-0", LAB, b"start")
        second = self.send("BREW", "/pot-0", LAB, b"start")
        self.history.writes[0][1].errback(OSError("locked"))
        self.assertEqual(self.successResultOf(first).status, 503)
        self.history.writes[1][1].callback(None)
        self.assertEqual(self.successResultOf(second).status, 200)
        self.flushLoggedErrors(OSError)

    def test_waiting_changes_run_in_order_each_after_the_one_before(self) -> None:
        start = self.send("BREW", "/pot-0", LAB, b"start")
        stop = self.send("BREW", "/pot-0", LAB, b"stop")
        again = self.send("BREW", "/pot-0", LAB, b"start")
        self.history.writes[0][1].callback(None)
        self.assertEqual([b.outcome for b, _ in self.history.writes], ["brewing", "stopped"])
        self.assertNoResult(again)
        self.history.writes[1][1].callback(None)
        self.assertEqual(len(self.history.writes), 3)
        self.history.writes[2][1].callback(None)
        statuses = [self.successResultOf(r).status for r in (start, stop, again)]
        self.assertEqual(statuses, [200, 200, 200])

    def test_a_waiting_change_that_raises_fails_and_the_next_is_still_made(self) -> None:
        start = self.send("BREW", "/pot-0", LAB, b"start")
        broken = self.send("BREW", "/pot-0", LAB, b"stop")
        after = self.send("BREW", "/pot-0", LAB, b"start")
        self.patch(self.pots[0], "stop", lambda: 1 / 0)
        self.history.writes[0][1].callback(None)
        self.assertEqual(self.successResultOf(start).status, 200)
        self.failureResultOf(broken, ZeroDivisionError)
        self.assertEqual(self.successResultOf(after).status, 409)  # still brewing

    def test_other_pots_do_not_wait(self) -> None:
        self.send("BREW", "/pot-0", LAB, b"start")
        tea = self.send("BREW", "/pot-1/green", TEA, b"start")
        self.assertEqual(len(self.history.writes), 2)
        self.history.writes[1][1].callback(None)
        self.assertEqual(self.successResultOf(tea).status, 200)

    def test_no_waiting_once_a_change_is_recorded(self) -> None:
        self.recorded_brew()
        reply = self.dispatcher.handle(Request("WHEN", "/pot-0", "HTCPCP/1.1", {}, b""))
        self.assertIsInstance(reply, Reply)

    def test_refusals_need_no_write(self) -> None:
        reply = self.dispatcher.handle(Request("BREW", "/pot-0", "HTCPCP/1.1", LAB, b"stop"))
        self.assertIsInstance(reply, Reply)
        self.assertEqual(self.history.writes, [])

    def test_reads_need_no_write(self) -> None:
        self.assertIsInstance(
            self.dispatcher.handle(Request("GET", "/pot-0", "HTCPCP/1.1", {})), Reply
        )

    def test_taking_away_needs_no_write(self) -> None:
        self.recorded_brew()
        self.clock.advance(30)
        self.history.writes[1][1].callback(None)
        reply = self.dispatcher.handle(Request("BREW", "/pot-0", "HTCPCP/1.1", LAB, b"stop"))
        self.assertIsInstance(reply, Reply)
        self.assertEqual(len(self.history.writes), 2)
