# -*- test-case-name: tests.test_history_resource -*-
"""
C{htcpcp log --csv}: a server's whole brew history (or one pot's) as CSV.

The command walks the history a page at a time with the pages' C{next}
cursors, so it holds one page in memory whatever the history's size, and
brews added meanwhile neither repeat nor push others out of the export.
Pages are read as JSON and written in the columns of the server's own CSV.
"""

from __future__ import annotations

import json
from typing import Final, TextIO
from urllib.parse import urlencode

from htcpcp.client import PotCommands, log_target
from htcpcp.history_resource import MAX_PAGE_SIZE, csv_rows

__all__ = ["MAX_PAGES", "export_log"]

MAX_PAGES: Final = 10**7
"""A bound on the pages one export reads (two billion brews)."""


async def export_log(client: PotCommands, url: str, pot: str | None, out: TextIO) -> str | None:
    """
    Write the history of C{url}'s server to C{out} as CSV, newest first.

    @return: C{None} when all of it was written, else what went wrong.
    """
    base = log_target(url, 1, MAX_PAGE_SIZE, pot)
    out.write(csv_rows((), header=True).decode("utf-8"))
    before: str | None = None
    for _ in range(MAX_PAGES):
        target = base if before is None else f"{base}&{urlencode({'before': before})}"
        response = await client.request("GET", target)
        if response.status != 200:
            said = response.body.decode("utf-8", "replace").strip()
            return f"the history answered {response.status} {response.reason}: {said}"
        try:
            page = json.loads(response.body)
            brews, before = page["brews"], page.get("next")
            out.write(csv_rows(brews).decode("utf-8"))
        except (ValueError, KeyError, TypeError) as error:
            return f"the history's answer is not a page of brews ({error})"
        if before is None:
            return None
    return f"stopped after {MAX_PAGES:,} pages"
