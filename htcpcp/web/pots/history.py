# -*- test-case-name: tests.test_web_routes -*-
"""
The brew history as the history page and C{api/history} ask the pot server
for it: the page of brews the query names (C{page}, C{pot}), and the latest
brews the page's charts are drawn from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from twisted.web.iweb import IRequest

from htcpcp.web.http.queries import query_page, query_text
from htcpcp.web.pots.gateway import PotGateway

__all__ = ["CHART_SAMPLE", "HISTORY_PAGE", "History", "history_for"]

HISTORY_PAGE: Final = 20
"""Brews on one page of the history."""
CHART_SAMPLE: Final = 200
"""The latest brews the charts are drawn from."""


@dataclass(frozen=True)
class History:
    """
    One page of the history, as the server's C{/log} answered it.

    @ivar listing: the page the query asked for.
    @ivar sample: the latest brews, for the charts.
    @ivar pot: the pot the history is of, or C{None} for every pot.
    """

    listing: Mapping[str, Any]
    sample: Sequence[Any]
    pot: str | None


async def history_for(gateway: PotGateway, request: IRequest, *, charts: bool = True) -> History:
    """
    The history C{request}'s query asks for, with the brews for its charts
    unless C{charts} is false (one request to the pot server, not two).

    @raise htcpcp.web.http.queries.BadQuery: for a query that cannot be used.
    """
    page = query_page(request)
    pot = query_text(request, b"pot") or None
    listing = await gateway.history(page, HISTORY_PAGE, pot)
    if not charts:
        return History(listing, [], pot)
    sample = await gateway.history(1, CHART_SAMPLE, pot)
    return History(listing, list(sample.get("brews") or []), pot)
