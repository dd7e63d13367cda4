"""Tests for coffee URLs and request targets."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.urls import (
    CAFE_VARIANTS,
    COFFEE_SCHEMES,
    Target,
    TargetError,
    parse_target,
    split_query,
)

RFC_2324_SCHEMES = (
    "koffie",
    "q%C3%A6hv%C3%A6",
    "%D9%82%D9%87%D9%88%D8%A9",
    "akeita",
    "koffee",
    "kahva",
    "kafe",
    "caf%C3%E8",
    "%E5%92%96%E5%95%A1",
    "kava",
    "k%C3%A1va",
    "kaffe",
    "coffee",
    "kafo",
    "kohv",
    "kahvi",
    "%4Baffee",
    "%CE%BA%CE%B1%CF%86%CE%AD",
    "%E0%A4%95%E0%A5%8C%E0%A4%AB%E0%A5%80",
    "%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC",
    "%EC%BB%A4%ED%94%BC",
    "%D0%BA%D0%BE%D1%84%D0%B5",
    "%E0%B8%81%E0%B8%B2%E0%B9%81%E0%B8%9F",
)
"""RFC 2324 section 3's coffee-scheme alternatives, copied from the RFC in its order."""

RFC_2324_SCHEMES_DECODED = (
    "koffie",
    "qæhvæ",
    "قهوة",
    "akeita",
    "koffee",
    "kahva",
    "kafe",
    "咖啡",
    "kava",
    "káva",
    "kaffe",
    "coffee",
    "kafo",
    "kohv",
    "kahvi",
    "Kaffee",
    "καφέ",
    "कौफी",
    "コーヒー",
    "커피",
    "кофе",
    "กาแฟ",
)
"""The same list as IRIs: every form that is valid UTF-8 (all but Catalan's), decoded."""

CAFE_ERRATUM_AND_UTF8 = ("caf%C3%E9", "caf%C3%A9", "caf%C3%A8", "café", "cafè")
"""Erratum 3492's spelling, then the valid UTF-8 spellings, encoded and not."""


class CoffeeSchemeTests(SynchronousTestCase):
    def test_rfc_lists_23_schemes(self) -> None:
        self.assertEqual(len(RFC_2324_SCHEMES), 23)
        self.assertEqual(COFFEE_SCHEMES, RFC_2324_SCHEMES)

    def test_cafe_variants_are_the_erratum_and_utf8_spellings(self) -> None:
        self.assertEqual(CAFE_VARIANTS, CAFE_ERRATUM_AND_UTF8[:3])

    def test_every_scheme_percent_encoded(self) -> None:
        for scheme in RFC_2324_SCHEMES:
            target = parse_target(f"{scheme}://ducky/pot-0")
            self.assertEqual(
                (target.scheme, target.host, target.segments),
                ("coffee", "ducky", ("pot-0",)),
                scheme,
            )

    def test_every_valid_scheme_as_iri(self) -> None:
        for iri in RFC_2324_SCHEMES_DECODED:
            self.assertEqual(parse_target(f"{iri}://ducky").scheme, "coffee", iri)

    def test_cafe_erratum_and_utf8_spellings(self) -> None:
        for scheme in CAFE_ERRATUM_AND_UTF8:
            self.assertEqual(parse_target(f"{scheme}://ducky/pot-0").scheme, "coffee", scheme)

    def test_case_insensitive(self) -> None:
        self.assertEqual(parse_target("KOFFIE://ducky").scheme, "coffee")
        self.assertEqual(parse_target("КОФЕ://ducky").scheme, "coffee")
        self.assertEqual(parse_target("%4baffee://ducky").scheme, "coffee")

    def test_raw_bytes_that_are_not_utf8(self) -> None:
        """The Catalan form sent as raw bytes, as the request parser passes them on."""
        raw = b"caf\xc3\xe8://ducky/pot-0".decode("utf-8", "surrogateescape")
        self.assertEqual(parse_target(raw).scheme, "coffee")

    def test_case_insensitive_for_invalid_utf8(self) -> None:
        """The RFC's own Catalan form is not UTF-8; its ASCII letters still fold."""
        self.assertEqual(parse_target("CAF%C3%E8://ducky").scheme, "coffee")

    def test_tea(self) -> None:
        target = parse_target("tea://ducky/pot-1/earl-grey?Milk")
        self.assertEqual(
            (target.scheme, target.segments, target.query), ("tea", ("pot-1", "earl-grey"), "Milk")
        )
        self.assertEqual(parse_target("TEA://ducky").scheme, "tea")

    def test_unknown_scheme(self) -> None:
        error = self.assertRaises(TargetError, parse_target, "caffeine://ducky")
        self.assertEqual(
            (error.status, error.detail, str(error)),
            (400, "'caffeine' is not a coffee URL scheme", "'caffeine' is not a coffee URL scheme"),
        )

    def test_misspelt_schemes_are_unknown(self) -> None:
        for scheme in ("koffiee", "cofee", "Kaffe%65x", "kaf", "teas", "caf%C3%E7", "%FF"):
            self.assertRaises(TargetError, parse_target, f"{scheme}://ducky")


class TargetFormTests(SynchronousTestCase):
    def test_not_a_url(self) -> None:
        error = self.assertRaises(TargetError, parse_target, "ducky")
        self.assertEqual(
            (error.status, error.detail), (400, "the target is neither a coffee URL nor a path")
        )

    def test_empty_scheme(self) -> None:
        self.assertEqual(self.assertRaises(TargetError, parse_target, "://ducky").status, 400)

    def test_origin_form(self) -> None:
        target = parse_target("/pot-1/darjeeling?Cream,Sugar")
        self.assertEqual(target, Target(None, None, None, ("pot-1", "darjeeling"), "Cream,Sugar"))

    def test_asterisk_form(self) -> None:
        target = parse_target("*")
        self.assertEqual(
            (target.scheme, target.host, target.port, target.segments, target.query),
            (None, None, None, (), ""),
        )

    def test_targets_are_frozen_values(self) -> None:
        target = parse_target("coffee://ducky/pot-0")
        self.assertRaises(FrozenInstanceError, setattr, target, "host", "teapot")

    def test_asterisk_inside_a_path_is_a_segment(self) -> None:
        self.assertEqual(parse_target("/*").segments, ("*",))

    def test_empty_segments_are_dropped(self) -> None:
        self.assertEqual(parse_target("//pot-0//earl-grey/").segments, ("pot-0", "earl-grey"))

    def test_segments_are_percent_decoded(self) -> None:
        self.assertEqual(parse_target("/pot-0/earl%20grey").segments, ("pot-0", "earl grey"))

    def test_fragment_is_dropped(self) -> None:
        target = parse_target("coffee://ducky/pot-0#crema")
        self.assertEqual((target.segments, target.query), (("pot-0",), ""))

    def test_query_is_kept_raw(self) -> None:
        self.assertEqual(parse_target("coffee://ducky/pot-0?Oat+milk,%41").query, "Oat+milk,%41")

    def test_scheme_without_authority(self) -> None:
        target = parse_target("coffee:pot-1?Cream")
        self.assertEqual(target, Target("coffee", None, None, ("pot-1",), "Cream"))

    def test_full_coffee_url(self) -> None:
        target = parse_target("koffie://Ducky:5030/pot-1/earl-grey?Cream")
        self.assertEqual(target, Target("coffee", "ducky", 5030, ("pot-1", "earl-grey"), "Cream"))


class AuthorityTests(SynchronousTestCase):
    def test_port(self) -> None:
        self.assertEqual(parse_target("coffee://Ducky:5030/").port, 5030)

    def test_no_port(self) -> None:
        self.assertEqual(parse_target("coffee://ducky/").port, None)
        self.assertEqual(parse_target("coffee://ducky:/").port, None)

    def test_host_is_case_folded(self) -> None:
        self.assertEqual(parse_target("coffee://DuCkY.Example/pot-0").host, "ducky.example")

    def test_host_trailing_dot_is_dropped(self) -> None:
        self.assertEqual(parse_target("coffee://ducky.example./").host, "ducky.example")

    def test_host_is_percent_decoded(self) -> None:
        self.assertEqual(parse_target("coffee://duck%79/").host, "ducky")

    def test_host_without_a_path(self) -> None:
        target = parse_target("coffee://ducky")
        self.assertEqual((target.host, target.segments), ("ducky", ()))

    def test_ipv6_host_and_port(self) -> None:
        target = parse_target("coffee://[::1]:5030/pot-0")
        self.assertEqual((target.host, target.port, target.segments), ("::1", 5030, ("pot-0",)))

    def test_ipv6_host_without_port(self) -> None:
        target = parse_target("coffee://[FE80::1]/")
        self.assertEqual((target.host, target.port), ("fe80::1", None))

    def test_ipv6_host_unclosed(self) -> None:
        error = self.assertRaises(TargetError, parse_target, "coffee://[::1/")
        self.assertEqual((error.status, error.detail), (400, "malformed host"))

    def test_ipv6_host_followed_by_other_than_a_port(self) -> None:
        self.assertEqual(
            self.assertRaises(TargetError, parse_target, "coffee://[::1]x/").detail,
            "malformed host",
        )

    def test_highest_port(self) -> None:
        self.assertEqual(parse_target("coffee://ducky:65535/").port, 65535)

    def test_port_past_the_highest(self) -> None:
        error = self.assertRaises(TargetError, parse_target, "coffee://ducky:65536/")
        self.assertEqual((error.status, error.detail), (400, "malformed port"))

    def test_port_not_digits(self) -> None:
        for port in ("50x", "-1", "+80", "\u0665\u0660"):
            error = self.assertRaises(TargetError, parse_target, f"coffee://ducky:{port}/")
            self.assertEqual(error.detail, "malformed port", port)

    def test_userinfo_is_dropped(self) -> None:
        target = parse_target("coffee://barista:secret@Ducky:5030/pot-0")
        self.assertEqual((target.host, target.port), ("ducky", 5030))

    def test_at_sign_in_userinfo(self) -> None:
        self.assertEqual(parse_target("coffee://a@b@ducky/").host, "ducky")


class SplitQueryTests(SynchronousTestCase):
    def test_split_query(self) -> None:
        self.assertEqual(split_query("Cream,Whisky"), ["Cream", "Whisky"])
        self.assertEqual(split_query("Cream&Oat%20milk"), ["Cream", "Oat milk"])

    def test_plus_is_a_space(self) -> None:
        self.assertEqual(split_query("Oat+milk,Half+and+half"), ["Oat milk", "Half and half"])

    def test_encoded_plus_stays_a_plus(self) -> None:
        self.assertEqual(split_query("C%2B%2B"), ["C++"])

    def test_blank_items_are_dropped_and_items_trimmed(self) -> None:
        self.assertEqual(split_query(",, Cream ,&, ,Whisky"), ["Cream", "Whisky"])

    def test_item_of_plus_signs_is_blank(self) -> None:
        """C{+} is a space, so an item of C{+} alone is as blank as one of spaces."""
        self.assertEqual(split_query("Cream,+,Whisky"), ["Cream", "Whisky"])

    def test_empty_query(self) -> None:
        self.assertEqual(split_query(""), [])


class HttpTargetTests(SynchronousTestCase):
    """An HTTP tool's absolute form, accepted only when the server asks for it."""

    def test_http_and_https_when_asked(self) -> None:
        for scheme in ("http", "https", "HTTP", "Https"):
            target = parse_target(f"{scheme}://Ducky:5030/pot-1?Cream", http=True)
            self.assertEqual(target, Target("http", "ducky", 5030, ("pot-1",), "Cream"), scheme)

    def test_http_refused_by_default(self) -> None:
        for scheme in ("http", "https"):
            error = self.assertRaises(TargetError, parse_target, f"{scheme}://ducky/pot-0")
            self.assertEqual(error.status, 400)

    def test_coffee_schemes_still_coffee_when_http_is_accepted(self) -> None:
        self.assertEqual(parse_target("koffie://ducky/", http=True).scheme, "coffee")
        self.assertEqual(parse_target("tea://ducky/", http=True).scheme, "tea")

    def test_other_schemes_refused_when_http_is_accepted(self) -> None:
        for scheme in ("ftp", "httpx", "ws"):
            self.assertRaises(TargetError, parse_target, f"{scheme}://ducky/", http=True)
