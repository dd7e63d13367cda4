"""Tests for coffee URLs and request targets."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.urls import CAFE_VARIANTS, COFFEE_SCHEMES, TargetError, parse_target, split_query


class CoffeeSchemeTests(SynchronousTestCase):
    def test_rfc_lists_23_schemes(self) -> None:
        self.assertEqual(len(set(COFFEE_SCHEMES)), 23)

    def test_every_scheme_percent_encoded(self) -> None:
        for scheme in (*COFFEE_SCHEMES, *CAFE_VARIANTS):
            target = parse_target(f"{scheme}://ducky/pot-0")
            self.assertEqual(
                (target.scheme, target.host, target.segments),
                ("coffee", "ducky", ("pot-0",)),
                scheme,
            )

    def test_every_valid_scheme_as_iri(self) -> None:
        for scheme in COFFEE_SCHEMES:
            raw = unquote_to_bytes(scheme)
            try:
                iri = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue
            self.assertEqual(parse_target(f"{iri}://ducky").scheme, "coffee", iri)

    def test_case_insensitive(self) -> None:
        self.assertEqual(parse_target("KOFFIE://ducky").scheme, "coffee")
        self.assertEqual(parse_target("КОФЕ://ducky").scheme, "coffee")
        self.assertEqual(parse_target("%4baffee://ducky").scheme, "coffee")

    def test_tea(self) -> None:
        target = parse_target("tea://ducky/pot-1/earl-grey?Milk")
        self.assertEqual(
            (target.scheme, target.segments, target.query), ("tea", ("pot-1", "earl-grey"), "Milk")
        )

    def test_unknown_scheme(self) -> None:
        error = self.assertRaises(TargetError, parse_target, "caffeine://ducky")
        self.assertEqual(error.status, 400)

    def test_not_a_url(self) -> None:
        self.assertEqual(self.assertRaises(TargetError, parse_target, "ducky").status, 400)

    def test_origin_form(self) -> None:
        target = parse_target("/pot-1/darjeeling?Cream,Sugar")
        self.assertEqual(
            (target.scheme, target.host, target.segments, target.query),
            (None, None, ("pot-1", "darjeeling"), "Cream,Sugar"),
        )

    def test_port_and_ipv6(self) -> None:
        self.assertEqual(parse_target("coffee://Ducky:5030/").port, 5030)
        self.assertEqual(parse_target("coffee://[::1]:5030/").host, "::1")
        self.assertRaises(TargetError, parse_target, "coffee://ducky:99999/")

    def test_split_query(self) -> None:
        self.assertEqual(split_query("Cream,Whisky"), ["Cream", "Whisky"])
        self.assertEqual(split_query("Cream&Oat%20milk"), ["Cream", "Oat milk"])
