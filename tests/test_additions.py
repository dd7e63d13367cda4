"""Tests for Accept-Additions parsing."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.additions import AdditionsError, AdditionsRequest, addition_key, parse_accept_additions


class AcceptAdditionsTests(SynchronousTestCase):
    def test_rfc_list(self) -> None:
        asked = parse_accept_additions("Cream;q=0.5, Whisky")
        self.assertEqual(asked.wanted, ("Cream", "Whisky"))

    def test_q_zero_excludes(self) -> None:
        asked = parse_accept_additions("Cream, Whisky;q=0", ["whisky"])
        self.assertEqual((asked.wanted, asked.excluded), (("Cream",), ("Whisky",)))

    def test_wildcard(self) -> None:
        self.assertTrue(parse_accept_additions("*").wildcard)
        self.assertFalse(parse_accept_additions("*;q=0").wildcard)

    def test_lab_semicolons(self) -> None:
        asked = parse_accept_additions("whole-milk; oat milk;q=1; level=2")
        self.assertEqual(asked.wanted, ("whole-milk", "oat milk"))

    def test_query_combined_without_duplicates(self) -> None:
        asked = parse_accept_additions("Cream", ["CREAM", "Sugar"])
        self.assertEqual(asked.wanted, ("Cream", "Sugar"))

    def test_bad_q(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, "Cream;q=2")

    def test_bad_name(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, "<script>")

    def test_key_folds_case_and_separators(self) -> None:
        self.assertEqual(addition_key("Oat milk"), addition_key("OAT-MILK"))
        self.assertEqual(addition_key("Half-and-Half"), addition_key("half-and-half"))


class AdditionNameTests(SynchronousTestCase):
    """Which names are additions, and when two names are the same addition."""

    def test_underscore_folds_like_a_space(self) -> None:
        self.assertEqual(addition_key("Oat_milk"), "oat-milk")
        asked = parse_accept_additions("Oat_milk, oat milk, OAT-MILK")
        self.assertEqual(asked.wanted, ("Oat_milk",))

    def test_runs_of_separators_fold_to_one_hyphen(self) -> None:
        self.assertEqual(addition_key("  Half - and _ half "), "half-and-half")

    def test_first_spelling_is_kept(self) -> None:
        asked = parse_accept_additions("whole-milk, Whole-Milk", ["WHOLE MILK"])
        self.assertEqual(asked.wanted, ("whole-milk",))

    def test_name_of_64_characters_is_accepted(self) -> None:
        name = "a" * 64
        self.assertEqual(parse_accept_additions(name).wanted, (name,))

    def test_name_of_65_characters_is_refused(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, "a" * 65)

    def test_name_may_not_start_with_punctuation(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, "-cream")
        self.assertRaises(AdditionsError, parse_accept_additions, ["'cream"])

    def test_name_may_hold_spaces_dots_and_apostrophes(self) -> None:
        asked = parse_accept_additions("Bailey's Irish cream, St. Remy")
        self.assertEqual(asked.wanted, ("Bailey's Irish cream", "St. Remy"))

    def test_query_names_are_checked_too(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, ["<b>"])


class QualityValueTests(SynchronousTestCase):
    """RFC 2324's q values: 0 refuses an addition, anything above asks for it."""

    def test_upper_case_q_is_a_q_value(self) -> None:
        asked = parse_accept_additions("Cream;Q=0")
        self.assertEqual((asked.wanted, asked.excluded), ((), ("Cream",)))

    def test_blanks_around_q_and_its_value(self) -> None:
        asked = parse_accept_additions("Cream; q = 0, Whisky ; q = 0.5")
        self.assertEqual((asked.wanted, asked.excluded), (("Whisky",), ("Cream",)))

    def test_zero_with_three_decimals_excludes(self) -> None:
        self.assertEqual(parse_accept_additions("Cream;q=0.000").excluded, ("Cream",))

    def test_smallest_positive_q_asks(self) -> None:
        self.assertEqual(parse_accept_additions("Cream;q=0.001").wanted, ("Cream",))

    def test_one_with_three_decimals_asks(self) -> None:
        self.assertEqual(parse_accept_additions("Cream;q=1.000").wanted, ("Cream",))

    def test_q_values_outside_the_grammar_are_refused(self) -> None:
        for value in ("1.0001", "0.1234", "1.5", "1.001", "-0", ".5", "", "2"):
            self.assertRaises(AdditionsError, parse_accept_additions, f"Cream;q={value}")

    def test_error_names_the_q_value(self) -> None:
        error = self.assertRaises(AdditionsError, parse_accept_additions, "Cream;q=7")
        self.assertEqual(str(error), "q value '7' is not a number between 0 and 1")

    def test_other_parameters_are_ignored(self) -> None:
        asked = parse_accept_additions("Cream;level=0;q=1")
        self.assertEqual((asked.wanted, asked.excluded), (("Cream",), ()))

    def test_refusal_wins_over_an_earlier_ask(self) -> None:
        asked = parse_accept_additions("Cream, Whisky", "cream;q=0")
        self.assertEqual((asked.wanted, asked.excluded), (("Whisky",), ("cream",)))


class WildcardTests(SynchronousTestCase):
    def test_lab_form_star_then_a_name(self) -> None:
        asked = parse_accept_additions("*; Cream")
        self.assertEqual((asked.wanted, asked.wildcard), (("Cream",), True))

    def test_a_later_star_with_q_reopens_the_wildcard(self) -> None:
        self.assertTrue(parse_accept_additions("*;q=0, *").wildcard)
        self.assertTrue(parse_accept_additions("*, *;q=0").wildcard)

    def test_star_is_not_an_addition(self) -> None:
        asked = parse_accept_additions("*, Cream")
        self.assertEqual((asked.wanted, asked.excluded), (("Cream",), ()))


class EmptyRequestTests(SynchronousTestCase):
    def test_nothing_asked(self) -> None:
        self.assertEqual(parse_accept_additions(), AdditionsRequest((), (), False))
        self.assertEqual(AdditionsRequest(), AdditionsRequest((), (), False))

    def test_requests_are_frozen_values(self) -> None:
        asked = parse_accept_additions("Cream")
        self.assertRaises(FrozenInstanceError, setattr, asked, "wanted", ("Whisky",))

    def test_empty_items_are_skipped(self) -> None:
        asked = parse_accept_additions(" , Cream;; ,, ;Whisky, ", [])
        self.assertEqual(asked, AdditionsRequest(("Cream", "Whisky"), (), False))


class AdditionTypeParameterTests(SynchronousTestCase):
    """C{milk-type=Cream}: RFC 2324's addition kinds misread as parameter names."""

    def test_public_clients_example(self) -> None:
        asked = parse_accept_additions("milk-type=Cream; syrup-type=Almond")
        self.assertEqual(asked.wanted, ("Cream", "Almond"))

    def test_every_kind_of_the_rfc(self) -> None:
        for kind in ("milk-type", "syrup-type", "sweetener-type", "spice-type", "alcohol-type"):
            self.assertEqual(parse_accept_additions(f"{kind}=Rum").wanted, ("Rum",), kind)

    def test_kind_in_any_case_with_blanks(self) -> None:
        self.assertEqual(parse_accept_additions("Milk-Type = Cream ").wanted, ("Cream",))

    def test_other_parameters_name_nothing(self) -> None:
        for parameter in ("level=2", "milk=Cream", "type=Cream", "milk-types=Cream"):
            self.assertEqual(parse_accept_additions(f"Rum; {parameter}").wanted, ("Rum",))

    def test_kind_parameter_with_a_q_value(self) -> None:
        asked = parse_accept_additions("milk-type=Cream;q=0, syrup-type=Vanilla")
        self.assertEqual((asked.wanted, asked.excluded), (("Vanilla",), ("Cream",)))

    def test_kind_parameter_value_must_be_a_name(self) -> None:
        self.assertRaises(AdditionsError, parse_accept_additions, "milk-type=<b>")
