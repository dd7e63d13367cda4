# -*- test-case-name: tests.test_protocol -*-
"""
The list of pots (C{/pots}): read-only, what each pot's PROPFIND says of
the pot itself, so a client learns every pot in one request.
"""

from __future__ import annotations

from collections.abc import Sequence

from htcpcp.message import Request
from htcpcp.pot import Pot
from htcpcp.reply import Reply, json_reply, read_only
from htcpcp.representations import pot_properties

__all__ = ["PotsResource"]


class PotsResource:
    """Answers requests for the list of C{pots}."""

    def __init__(self, pots: Sequence[Pot]) -> None:
        self._pots = tuple(pots)

    def answer(self, request: Request) -> Reply:
        """The list (GET, HEAD), the methods it allows (OPTIONS), or 405."""
        refusal = read_only(request, "the list of pots")
        if refusal is not None:
            return refusal
        return json_reply({"pots": [pot_properties(pot) for pot in self._pots]})
