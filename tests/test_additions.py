"""Tests for Accept-Additions parsing."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from htcpcp.additions import AdditionsError, addition_key, parse_accept_additions


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
