# -*- test-case-name: tests.test_protocol -*-
"""
What the pot server answers: one L{Request} in, one L{Reply} out.

The L{Dispatcher} is the server's root: it refuses methods HTCPCP lacks
(501) and media types it lacks (415), resolves the target to a resource
(a pot, in L{htcpcp.pot_resource}; the history log, in
L{htcpcp.history_resource}; the list of pots, in L{htcpcp.pots_resource})
and lets that resource answer.  Each answer says whether its method is
safe (L{Reply.answering}).  It knows nothing about connections;
L{htcpcp.protocol} moves the bytes.

    request -> Dispatcher.handle -> resolve target -> PotResource.answer
                                                   -> LogResource.answer
                                                   -> PotsResource.answer
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from twisted.internet.defer import Deferred

from htcpcp.cache import BoundedCache
from htcpcp.history_resource import LogResource
from htcpcp.history_stream import StreamedReply
from htcpcp.message import Request
from htcpcp.pot import Pot
from htcpcp.pot_resource import POT_METHODS, PotResource
from htcpcp.pots_resource import PotsResource
from htcpcp.recording import ChangeRecorder
from htcpcp.reply import Refusal, Reply, text_reply
from htcpcp.representations import alternates, pot_properties
from htcpcp.storage import History
from htcpcp.urls import Target, TargetError, parse_target
from htcpcp.vocabulary import COFFEE_TYPE, LAB_COFFEE_TYPE, MEDIA_TYPES, METHODS, SAFE, TEA_TYPE
from htcpcp.vocabulary import media_type as media_type_of

__all__ = ["METHODS", "SAFE", "Dispatcher", "Reply", "pot_properties"]

MAX_POT_DIGITS: Final = 9
"""Digits of a C{pot-N} read as a number; more name no pot."""


@dataclass(frozen=True)
class _Resolved:
    """What a target names: a pot (and a tea variety of it), or a resource of the server."""

    pot: PotResource | None
    variety: str | None
    target: Target


class Dispatcher:
    """
    Answers requests for a set of pots.

    @param names: the host names this server answers to.
    @param history: where brews are written; C{None} keeps no history.
    """

    def __init__(
        self,
        pots: Sequence[Pot],
        names: frozenset[str],
        history: History | None = None,
    ) -> None:
        self.pots = tuple(pots)
        self.names = names
        """The host names this server answers to."""
        self.alternates = alternates(self.pots)
        recorder = ChangeRecorder(self.pots, history)
        self._resources = tuple(PotResource(p, self.alternates, recorder) for p in self.pots)
        self._by_name = {r.pot.name.lower(): r for r in self._resources}
        self._log = LogResource(history)
        self._pots = PotsResource(self.pots)
        self._resolved: BoundedCache[tuple[str, str | None], _Resolved | Reply]
        self._resolved = BoundedCache(1024)

    def handle(self, request: Request) -> Reply | Deferred[Reply | StreamedReply]:
        """Answer C{request}; never raises for anything a client can send."""
        method = request.method
        reply = self._answer(request)
        if isinstance(reply, Deferred):
            return reply.addCallback(lambda answer: answer.answering(method))
        return reply.answering(method)

    def _answer(self, request: Request) -> Reply | Deferred[Reply]:
        if request.method not in SAFE:
            return text_reply(
                501, f"{request.method} is not an HTCPCP method; try one of: {POT_METHODS}"
            )
        resolved = self._resolve(request)
        if isinstance(resolved, Reply):
            return resolved
        media = request.headers.get("content-type")
        if media is not None and media_type_of(media) not in MEDIA_TYPES:
            return text_reply(
                415,
                f"Content-Type {media!r} is not an HTCPCP type: use {COFFEE_TYPE},"
                f" {LAB_COFFEE_TYPE} or {TEA_TYPE}",
            )
        pot = resolved.pot
        if pot is not None:
            return pot.answer(request, resolved.variety, resolved.target)
        if resolved.target.segments == ("pots",):
            return self._pots.answer(request)
        return self._log.answer(request, resolved.target)

    def _resolve(self, request: Request) -> _Resolved | Reply:
        """Find the resource a request is for (remembered per target and Use-Pot)."""
        key = (request.target, request.headers.get("use-pot"))
        resolved = self._resolved.get(key)
        if resolved is None:
            try:
                resolved = self._find_resource(*key)
            except Refusal as refusal:
                resolved = refusal.reply
            self._resolved.remember(key, resolved)
        return resolved

    def _find_resource(self, raw_target: str, use_pot: str | None) -> _Resolved:
        try:
            target = parse_target(raw_target, http=True)
        except TargetError as error:
            raise Refusal(text_reply(error.status, error.detail)) from error
        if target.host is not None and target.host not in self.names:
            raise Refusal(text_reply(404, f"this server does not answer to {target.host!r}"))
        segments = target.segments
        if segments in (("log",), ("pots",)):
            return _Resolved(None, None, target)
        if len(segments) > 2:
            raise Refusal(text_reply(404, "no such resource"))
        if segments:
            resource = self._find_pot(segments[0])
        else:
            resource = self._find_pot(use_pot.strip()) if use_pot else self._resources[0]
        variety = segments[1] if len(segments) == 2 else None
        if variety is not None and not any(
            v.name.lower() == variety.lower() for v in resource.pot.spec.varieties
        ):
            raise Refusal(text_reply(404, f"pot {resource.pot.name} has no variety {variety!r}"))
        return _Resolved(resource, variety, target)

    def _find_pot(self, designator: str) -> PotResource:
        lowered = designator.lower()
        digits = lowered[4:]
        if lowered.startswith("pot-") and digits.isascii() and digits.isdigit():
            index = int(digits) if len(digits) <= MAX_POT_DIGITS else len(self._resources)
            if index < len(self._resources):
                return self._resources[index]
        elif lowered in self._by_name:
            return self._by_name[lowered]
        raise Refusal(text_reply(404, f"there is no pot {designator!r} here"))
