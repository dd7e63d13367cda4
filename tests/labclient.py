"""
A faithful double of the original lab's web app (C{webapp/webapp_coffee.py}) as a pot client.

It talks as that app does: a new TCP connection per request, one string
sent, one C{recv(1024)}, close.  The status is the second word of the first
line; any status but 200 is an error page; the JSON is the last line of the
answer.  Its pages decide what to show exactly as the app's do, so a test
can ask "would the lab's home page offer the brew form now?".
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Final

LAB_TYPE: Final = "application/coffee-pot-command"
LAB_TIME: Final = "%a, %d %b %Y %H:%M:%S"

ADDITIONS: Final = (
    "cream",
    "half-and-half",
    "whole-milk",
    "part-skim",
    "skim",
    "non-dairy",
    "vanilla",
    "almond",
    "raspberry",
    "chocolate",
    "whisky",
    "rum",
    "kahlua",
    "aquavit",
    "oat milk",
    "soya milk",
    "coconut milk",
    "almond milk",
)
"""The additions the lab's brew form offers, as it sends them (besides "tea")."""

MILKS: Final = (
    "cream",
    "half-and-half",
    "whole-milk",
    "part-skim",
    "skim",
    "oat milk",
    "almond milk",
    "soya milk",
    "coconut milk",
    "non-dairy",
)

BEAN_KEYS: Final = ("name", "type", "origin", "profile", "strength", "roast")


@dataclass(frozen=True)
class LabAnswer:
    """What the lab's app makes of one answer."""

    raw: bytes
    status: str
    json: Any

    @property
    def error_page(self) -> bool:
        return self.status != "200"


def lab_request(
    port: int, method: str, *, additions: tuple[str, ...] = (), pot: str = "", body: str = ""
) -> LabAnswer:
    """Send one request the way the lab's app builds it, and read it back the same way."""
    lines = [f"{method} coffee://ducky HTTP/1.1", f"Content-Type: {LAB_TYPE}"]
    if additions:
        lines.append("Accept-Additions: " + "; ".join(additions))
    if pot:
        lines.append(f"Use-Pot: {pot}")
    return lab_send(port, ("\r\n".join(lines) + "\r\n\r\n" + body).encode())


def lab_send(port: int, data: bytes) -> LabAnswer:
    """One connection, one send, one C{recv(1024)}."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        raw = sock.recv(1024)
    words = raw.split(b"\r\n", 1)[0].split(b" ")
    status = words[1].decode("latin-1") if len(words) > 1 else ""
    try:
        parsed = json.loads(raw.split(b"\r\n")[-1])
    except ValueError:
        parsed = None
    return LabAnswer(raw, status, parsed)


def _passed(lab_time: str) -> bool:
    return time.mktime(time.strptime(lab_time, LAB_TIME)) <= time.time()


@dataclass(frozen=True)
class HomePage:
    """What the lab's home page shows for a GET answer."""

    brew_form: bool
    additions: tuple[str | None, ...]
    say_when_link: bool
    milk_stopped: bool
    ready: bool


def home_page(answer: LabAnswer) -> HomePage:
    """The lab's home page: the brew when GET's JSON is not C{{}}, else the brew form."""
    status = answer.json
    if answer.error_page or not isinstance(status, dict):
        raise AssertionError(f"the lab's home page would show an error: {answer.raw!r}")
    if status == {}:
        return HomePage(True, (), False, False, False)
    names = {name: name.title() for name in ADDITIONS}
    shown = tuple(names.get(a) for a in status["additions"])
    done = _passed(status["brew_time_end"])
    say_when = status["pour_milk_start"] != "" and status["pour_milk_stop"] is False and done
    return HomePage(False, shown, say_when, status["pour_milk_stop"] is True, done)


def beans_page(answer: LabAnswer) -> dict[str, Any]:
    """The lab's beans page: the bean's fields at the top of PROPFIND's JSON."""
    if answer.error_page or not isinstance(answer.json, dict):
        raise AssertionError(f"the lab's beans page would show an error: {answer.raw!r}")
    return {key: answer.json.get(key) for key in BEAN_KEYS}
