"""
Test doubles for L{htcpcp.check}: a small pot server in the lab's style
(a new connection per request, one answer, then close) that passes the lab
profile, and variants of it that each break one rule.

The double is written from the lab's task text and its web app's
expectations, not from the checker: its additions list, JSON keys and
status lines are spelled out here.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any, Final

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory, Protocol

ADDITIONS: Final = (
    "cream, half-and-half, whole-milk, part-skim, skim, non-dairy, vanilla, almond, raspberry,"
    " chocolate, whisky, rum, kahlua, aquavit, oat milk, soya milk, coconut milk, almond milk"
)
MILKS: Final = frozenset(
    {"cream", "half-and-half", "whole-milk", "part-skim", "skim", "non-dairy", "oat milk",
     "almond milk", "soya milk", "coconut milk"}
)  # fmt: skip
BEAN: Final = {
    "name": "Huila", "profile": "caramel", "origin": "Colombia", "type": "Arabica",
    "strength": 3, "roast": "medium",
}  # fmt: skip
TIME_FORMAT: Final = "%a, %d %b %Y %H:%M:%S"
REASONS: Final = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 406: "Not Acceptable", 409: "Conflict",
    415: "Unsupported Media Type", 418: "I'm a Teapot", 501: "Not Implemented",
}  # fmt: skip


@dataclass(frozen=True)
class Defects:
    """The one rule a double breaks (none: a correct lab server)."""

    no_status_line: bool = False
    """200 answers start with the headers (the lab's TODO 1 half done)."""
    no_date: bool = False
    http_version: bool = False
    """200 answers say HTTP/1.1 instead of HTCPCP/1.1."""
    ok_instead_of_406: bool = False
    empty_406: bool = False
    close_on_propfind: bool = False
    """PROPFIND's connection is closed with no answer."""
    hang_on_milk: bool = False
    """An unknown method (MILK) is never answered."""
    die_on_when: bool = False
    """WHEN makes the whole server stop listening."""


@dataclass
class LabPot:
    """The one pot, as the lab's JSON file holds it."""

    brew_time: float
    defects: Defects
    brew: dict[str, Any] = field(default_factory=dict)
    ends: float = 0.0
    on_death: Any = None


def _now(offset: float = 0.0) -> str:
    return (datetime.datetime.now() + datetime.timedelta(seconds=offset)).strftime(TIME_FORMAT)


class LabPotProtocol(Protocol):
    def __init__(self, pot: LabPot) -> None:
        self.pot = pot
        self.buffer = b""

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer:
            return
        head, _, body = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        words = lines[0].split(" ")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
        }
        answer = self.answer(words[0], words[1] if len(words) > 1 else "", headers, body.strip())
        if answer is not None:
            self.transport.write(answer)
            self.transport.loseConnection()

    def respond(self, status: int, body: str = "") -> bytes:
        defects = self.pot.defects
        lines = [f"HTCPCP/1.1 {status} {REASONS[status]}", "Server: CoffeePot"]
        if status == 200:
            lines.append("Content-Type: message/coffeepot")
            if defects.no_status_line:
                lines.pop(0)
            elif defects.http_version:
                lines[0] = "HTTP/1.1 200 OK"
        if not (defects.no_date and status == 200):
            lines.append(f"Date: {_now()}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def answer(self, method: str, url: str, headers: dict[str, str], body: bytes) -> bytes | None:
        pot, defects = self.pot, self.pot.defects
        if "coffee://" not in url:
            return self.respond(400)
        if url.split("://", 1)[1] != "ducky":
            return self.respond(404)
        if method not in ("GET", "BREW", "POST", "PROPFIND", "WHEN"):
            if defects.hang_on_milk:
                return None
            return self.respond(501)
        if (
            headers.get("content-type", "application/coffee-pot-command")
            != "application/coffee-pot-command"
        ):
            return self.respond(415)
        if headers.get("use-pot") == "tea":
            return self.respond(418)
        additions = [a.strip() for a in headers.get("accept-additions", "").split(";") if a.strip()]
        if (
            any(a.lower() not in ADDITIONS.split(", ") for a in additions)
            and not defects.ok_instead_of_406
        ):
            return self.respond(406, "" if defects.empty_406 else ADDITIONS)
        if method == "GET":
            return self.respond(200, json.dumps(pot.brew))
        if method == "PROPFIND":
            if defects.close_on_propfind:
                self.transport.loseConnection()
                return None
            return self.respond(200, json.dumps(pot.brew.get("coffee_bean", {})))
        if method == "WHEN":
            if defects.die_on_when:
                self.transport.abortConnection()
                pot.on_death()
                return None
            if pot.brew and pot.brew["pour_milk_start"] and reactor.seconds() >= pot.ends:
                pot.brew["pour_milk_stop"] = True
            return self.respond(200, json.dumps(pot.brew))
        if body == b"stop":
            pot.brew = {}
            return self.respond(200)
        if body != b"start":
            return self.respond(400)
        if pot.brew and reactor.seconds() < pot.ends:
            return self.respond(409, "Pot is busy")
        milk = any(a.lower() in MILKS for a in additions)
        pot.ends = reactor.seconds() + pot.brew_time
        pot.brew = {
            "date": _now(), "beverage_type": "Coffee", "additions": additions,
            "brew_time_end": _now(pot.brew_time),
            "pour_milk_start": _now(pot.brew_time) if milk else "",
            "pour_milk_stop": False, "coffee_bean": BEAN,
        }  # fmt: skip
        return self.respond(200)


class LabDouble:
    """A running double on 127.0.0.1; C{restart_after} brings a dead one back."""

    def __init__(self, defects: Defects, brew_time: float, restart_after: float | None) -> None:
        self.pot = LabPot(brew_time, defects, on_death=self._die)
        self.factory = Factory.forProtocol(lambda: LabPotProtocol(self.pot))
        self.restart_after = restart_after
        self.port_number = 0
        self.listening: IListeningPort | None = None
        self.deaths = 0
        self._revival: Any = None

    async def start(self) -> None:
        endpoint = TCP4ServerEndpoint(reactor, self.port_number, interface="127.0.0.1")
        self.listening = await endpoint.listen(self.factory)
        self.port_number = self.listening.getHost().port

    def _die(self) -> None:
        self.deaths += 1
        assert self.listening is not None
        stopping = self.listening.stopListening()
        self.listening = None
        self.pot.brew = {}
        if self.restart_after is not None:
            stopping.addCallback(self._schedule_revival)

    def _schedule_revival(self, _: object) -> None:
        self._revival = reactor.callLater(self.restart_after, self._revive)

    def _revive(self) -> None:
        self._revival = None
        Deferred.fromCoroutine(self.start())

    async def stop(self) -> None:
        if self._revival is not None and self._revival.active():
            self._revival.cancel()
        if self.listening is not None:
            await self.listening.stopListening()
            self.listening = None


async def start_lab_double(
    case: Any,
    defects: Defects = Defects(),
    brew_time: float = 1.0,
    restart_after: float | None = None,
) -> LabDouble:
    """Start a double, stopped when the test C{case} ends."""
    double = LabDouble(defects, brew_time, restart_after)
    await double.start()
    case.addCleanup(double.stop)
    return double
