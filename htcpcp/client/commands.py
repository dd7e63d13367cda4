# -*- test-case-name: tests.test_client -*-
"""
The HTCPCP commands (brew, stop, get, propfind, when, history) over any
client that can send one request: L{PotCommands}, and the targets they
build.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from twisted.internet.defer import Deferred

from htcpcp.message import Response
from htcpcp.vocabulary import COFFEE_TYPE, TEA_TYPE

__all__ = ["PotCommands", "log_target", "with_variety"]


def with_variety(target: str, variety: str) -> str:
    """C{target} with the tea C{variety} appended to its path (percent-encoded)."""
    path, mark, query = target.partition("?")
    return f"{path.rstrip('/')}/{quote(variety, safe='')}{mark}{query}"


def log_target(target: str, page: int = 1, per_page: int = 50, pot: str | None = None) -> str:
    """The history (C{log}) resource of the server C{target} is on."""
    fields: dict[str, object] = {"page": page, "per_page": per_page}
    if pot:
        fields["pot"] = pot
    query = urlencode(fields)
    if target.startswith("/"):
        return f"/log?{query}"
    scheme, _, rest = target.partition("://")
    authority = rest.partition("/")[0].partition("?")[0]
    return f"{scheme}://{authority}/log?{query}"


class PotCommands(ABC):
    """
    The HTCPCP commands (brew, stop, get, propfind, when, history), built on
    L{request}: a client only has to send requests to have them all.
    """

    @abstractmethod
    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Deferred[Response]:
        """Send one request to C{target} and return its response."""

    def brew(
        self,
        target: str,
        additions: Sequence[str] = (),
        *,
        tea: bool = False,
        variety: str | None = None,
    ) -> Deferred[Response]:
        """
        Start a brew: coffee, or tea with C{tea=True} or a C{variety}.

        The variety is appended to the target's path (C{/pot-1/earl-grey});
        C{additions} go in one C{Accept-Additions} header.
        """
        if variety:
            target = with_variety(target, variety)
            tea = True
        headers = [("Content-Type", TEA_TYPE if tea else COFFEE_TYPE)]
        if additions:
            headers.append(("Accept-Additions", ", ".join(additions)))
        return self.request("BREW", target, headers, b"start")

    def stop(self, target: str, *, tea: bool = False) -> Deferred[Response]:
        """Stop the brew in the pot at C{target}."""
        headers = [("Content-Type", TEA_TYPE if tea else COFFEE_TYPE)]
        return self.request("BREW", target, headers, b"stop")

    def get(self, target: str) -> Deferred[Response]:
        """The state of the pot at C{target} (JSON)."""
        return self.request("GET", target)

    def propfind(self, target: str) -> Deferred[Response]:
        """The properties of the pot at C{target} and of its bean (JSON)."""
        return self.request("PROPFIND", target)

    def when(self, target: str) -> Deferred[Response]:
        """Say when: stop pouring milk into the pot at C{target}."""
        return self.request("WHEN", target)

    def history(
        self, target: str, page: int = 1, per_page: int = 50, *, pot: str | None = None
    ) -> Deferred[Response]:
        """One page of the brew history of C{target}'s server, optionally one pot's."""
        return self.request("GET", log_target(target, page, per_page, pot))
