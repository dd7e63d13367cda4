# -*- test-case-name: tests.test_protocol -*-
"""
One pot as a resource: what BREW, POST, GET, HEAD, PROPFIND, WHEN and
OPTIONS do to it and answer.

Changes (BREW, POST, WHEN) are made one after another, each once the one
before it is recorded in the brew history, and acknowledged only once
their own write succeeds; a change that cannot be recorded is undone and
answered 503 (see L{htcpcp.recording}).  The pot's rules (its additions,
varieties and forbidden combinations) come from its L{PotSpec}; the
bodies from L{htcpcp.representations}.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Final

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from htcpcp.additions import AdditionsError, addition_key, parse_accept_additions
from htcpcp.message import Request
from htcpcp.pot import (
    Addition,
    Brew,
    CoffeeSupply,
    NotBrewing,
    NotPouring,
    Pot,
    PotBusy,
    PotKind,
    State,
    Variety,
)
from htcpcp.recording import ChangeRecorder
from htcpcp.reply import (
    JSON,
    TEXT,
    Refusal,
    Reply,
    json_reply,
    text_reply,
)
from htcpcp.representations import pot_description, status_body
from htcpcp.urls import Target, split_query
from htcpcp.vocabulary import CHANGES, COFFEE_TYPE, COMMANDS, MEDIA_TYPES, METHODS, TEA_TYPE
from htcpcp.vocabulary import media_type as media_type_of

__all__ = ["POT_METHODS", "UNRECORDED_RETRY", "PotResource"]

POT_METHODS: Final = ", ".join(METHODS)
"""What a pot answers to (its C{Allow})."""
UNRECORDED_RETRY: Final = "5"
"""Seconds a client is asked to wait after a change that could not be recorded (503)."""

Handler = Callable[[Request, str | None, Target], Reply | Deferred[Reply]]


class PotResource:
    """
    Answers the requests for one pot.

    @param alternates: the server's C{Alternates} header (every coffee and
        tea on offer), sent with the answers that offer a choice.
    @param recorder: records the changes this resource makes.
    """

    log = Logger()

    def __init__(self, pot: Pot, alternates: str, recorder: ChangeRecorder) -> None:
        self.pot = pot
        self._alternates = alternates
        self._recorder = recorder
        self._catalogue = {addition_key(a.name): a for a in pot.spec.additions}
        self._recording = False  # a change is being recorded: the next ones wait
        self._next: deque[tuple[Callable[[], Reply | Deferred[Reply]], Deferred[Reply]]] = deque()
        self._status_reply: Reply | None = None
        self._handlers: dict[str, Handler] = {
            "BREW": self._brew,
            "POST": self._post,
            "GET": self._get,
            "HEAD": self._get,
            "PROPFIND": self._propfind,
            "WHEN": self._when,
            "OPTIONS": self._options,
        }
        pot.subscribe(self._forget_status)

    def _forget_status(self, brew: Brew) -> None:
        self._status_reply = None

    def answer(
        self, request: Request, variety: str | None, target: Target
    ) -> Reply | Deferred[Reply]:
        """
        The answer to C{request} (of one of L{METHODS}) for this pot, or for
        its tea C{variety}, asked at C{target}.
        """
        handler = self._handlers[request.method]
        if request.method in CHANGES:
            return self._in_turn(lambda: _refused(handler, request, variety, target))
        return _refused(handler, request, variety, target)

    def _in_turn(self, change: Callable[[], Reply | Deferred[Reply]]) -> Reply | Deferred[Reply]:
        """Make changes one at a time: each once the one before is recorded."""
        if self._recording:
            later: Deferred[Reply] = Deferred()
            self._next.append((change, later))
            return later
        reply = change()
        if not isinstance(reply, Deferred):
            return reply
        self._recording = True
        return reply.addBoth(self._turn_over)

    def _turn_over(self, result: Reply | Failure) -> Reply | Failure:
        """A change was recorded (or not): make the ones that waited for it, in order."""
        self._recording = False
        while self._next and not self._recording:
            change, later = self._next.popleft()
            try:
                reply = self._in_turn(change)
            except Exception:
                later.errback()
                continue
            if isinstance(reply, Deferred):
                reply.chainDeferred(later)
            else:
                later.callback(reply)
        return result

    def _get(self, request: Request, variety: str | None, target: Target) -> Reply:
        pot = self.pot
        self._additions(request, None)
        reply = self._status_reply
        if reply is None:
            reply = Reply(200, status_body(pot))
            if pot.state in (State.IDLE, State.READY):
                self._status_reply = reply
        return reply

    def _propfind(self, request: Request, variety: str | None, target: Target) -> Reply:
        return json_reply(pot_description(self.pot))

    def _options(self, request: Request, variety: str | None, target: Target) -> Reply:
        return Reply(200, b"", TEXT, (("Allow", POT_METHODS),))

    def _when(
        self, request: Request, variety: str | None, target: Target
    ) -> Reply | Deferred[Reply]:
        try:
            return self._change(self.pot.when)
        except NotPouring:
            return text_reply(
                409, f"no milk is pouring from pot {self.pot.name}: nothing to say when to"
            )

    def _post(
        self, request: Request, variety: str | None, target: Target
    ) -> Reply | Deferred[Reply]:
        self.log.info("POST to {pot} is deprecated (RFC 2324 2.1.1): use BREW", pot=self.pot.name)
        return self._brew(request, variety, target)

    def _brew(
        self, request: Request, variety: str | None, target: Target
    ) -> Reply | Deferred[Reply]:
        media = media_type_of(request.headers.get("content-type", ""))
        if media not in MEDIA_TYPES:
            return text_reply(
                415,
                f"BREW needs Content-Type: {COFFEE_TYPE} (or {TEA_TYPE} for tea)",
            )
        command = request.body.strip().lower()
        if command not in COMMANDS:
            return text_reply(400, 'the body of a BREW must be "start" or "stop"')
        if command == b"stop":
            return self._stop()
        if media == TEA_TYPE:
            at_root = not target.segments and "use-pot" not in request.headers
            return self._start_tea(request, variety, at_root)
        return self._start_coffee(request, media)

    def _stop(self) -> Reply | Deferred[Reply]:
        """Stop a brew; a finished one is taken away, and the pot is empty again."""
        pot = self.pot
        if pot.state is State.READY:
            brew = pot.take_away()
            self._status_reply = None
            return Reply(200, status_body(pot, brew))
        try:
            return self._change(pot.stop)
        except NotBrewing:
            return text_reply(409, f"pot {pot.name} is empty: nothing to stop")

    def _start_coffee(self, request: Request, media: str) -> Reply | Deferred[Reply]:
        """
        Brew coffee.  A C{message/coffeepot} BREW is answered with the teas on
        offer too (RFC 7168 section 2.1.1, a SHOULD); the lab's
        C{application/coffee-pot-command} is not, so its answer stays small
        enough for the lab's one C{recv(1024)}.
        """
        pot = self.pot
        spec = pot.spec
        if spec.kind is PotKind.TEAPOT:
            if spec.coffee is CoffeeSupply.NEVER:
                return text_reply(418, f"I'm a teapot: {pot.name} brews tea, not coffee")
            if spec.coffee is CoffeeSupply.OUT:
                return text_reply(
                    503, f"{pot.name} is out of coffee for now", ("Retry-After", "3600")
                )
        additions = self._additions(request, None)
        offer = (("Alternates", self._alternates),) if media == COFFEE_TYPE else ()
        return self._start(additions, None, offer)

    def _start_tea(
        self, request: Request, variety_name: str | None, at_root: bool
    ) -> Reply | Deferred[Reply]:
        """
        Brew tea.  At C{/} (no pot named) brewing never starts: the answer is
        300 with the teas on offer (RFC 7168 section 2.1.1), even where the
        default pot is a coffee pot.
        """
        pot = self.pot
        spec = pot.spec
        if spec.kind is not PotKind.TEAPOT and not at_root:
            return text_reply(415, f"pot {pot.name} is a coffee pot: send {COFFEE_TYPE}")
        offer = ("Alternates", self._alternates)
        if spec.kind is not PotKind.TEAPOT:
            return text_reply(300, "choose a tea", offer)
        if variety_name is None:
            names = ", ".join(v.name for v in spec.varieties)
            return text_reply(300, f"choose a variety of pot {pot.name}: {names}", offer)
        variety = next(v for v in spec.varieties if v.name.lower() == variety_name.lower())
        additions = self._additions(request, variety)
        return self._start(additions, variety, ())

    def _additions(self, request: Request, variety: Variety | None) -> tuple[Addition, ...]:
        """
        The additions a request asks for, each one this pot has.

        @raise Refusal: 400 for an unreadable list, 406 for an addition the
            pot lacks, 403 for one its rules forbid in this beverage.
        """
        if "accept-additions" not in request.headers and "?" not in request.target:
            return ()  # none asked for: nothing to read or refuse
        header = request.headers.get("accept-additions", "")
        query = request.target.partition("?")[2]
        try:
            asked = parse_accept_additions(header, split_query(query))
        except AdditionsError as error:
            raise Refusal(text_reply(400, f"Accept-Additions: {error}")) from error
        catalogue = self._catalogue
        missing = [name for name in asked.wanted if addition_key(name) not in catalogue]
        if missing:
            raise Refusal(self._not_acceptable(request))
        additions = tuple(
            Addition(name, catalogue[addition_key(name)].kind) for name in asked.wanted
        )
        beverage = variety.name if variety else "coffee"
        forbidden = self.pot.spec.forbidden_addition(beverage, additions)
        if forbidden is not None:
            raise Refusal(text_reply(403, f"{forbidden.name} in {beverage} is not done here"))
        return additions

    def _not_acceptable(self, request: Request) -> Reply:
        listing = ", ".join(a.name for a in self.pot.spec.additions)
        return text_reply(406, listing) if request.method != "HEAD" else Reply(406, b"", TEXT)

    def _start(
        self,
        additions: tuple[Addition, ...],
        variety: Variety | None,
        headers: tuple[tuple[str, str], ...],
    ) -> Reply | Deferred[Reply]:
        pot = self.pot
        try:
            return self._change(lambda: pot.start(additions, variety), headers)
        except PotBusy as busy:
            seconds = max(1, math.ceil(busy.retry_after))
            state = "pouring milk" if pot.state is State.POURING else "brewing"
            return text_reply(
                409,
                f"pot {pot.name} is busy {state}: try again in {seconds} s",
                ("Retry-After", str(seconds)),
            )

    def _change(
        self, change: Callable[[], Brew], headers: tuple[tuple[str, str], ...] = ()
    ) -> Reply | Deferred[Reply]:
        """
        Make C{change}, record it, and acknowledge it once it is recorded;
        undo it if it cannot be.

        @raise Exception: whatever C{change} raises; nothing changed.
        """
        pot = self.pot
        before = (pot.state, pot.current)
        brew, write = self._recorder.make(pot, change)
        reply = Reply(200, status_body(pot, brew), JSON, headers)
        if write is None:
            return reply

        def acknowledge(recorded: bool) -> Reply:
            if recorded:
                return reply
            pot.restore(*before)
            self._status_reply = None
            return text_reply(
                503,
                "the brew history could not be written, so nothing was changed; try again",
                ("Retry-After", UNRECORDED_RETRY),
            )

        return write.addCallback(acknowledge)


def _refused(
    handler: Handler, request: Request, variety: str | None, target: Target
) -> Reply | Deferred[Reply]:
    """Run a handler; a L{Refusal} it raises is its answer."""
    try:
        return handler(request, variety, target)
    except Refusal as refusal:
        return refusal.reply
