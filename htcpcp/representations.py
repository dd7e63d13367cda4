# -*- test-case-name: tests.test_protocol -*-
"""
The pot server's JSON bodies: a brew's status, a pot's properties, and the
lab's way of writing times.

The lab's web client reads these keys, so their names and formats are its
own (C{date}, C{beverage_type}, local times as C{Sun, 05 May 2024 ...});
the ISO 8601 UTC times and the other keys are ours.  Nothing here decides
what to answer; the resources do, and ask this module how to write it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Any, Final

from htcpcp.pot import Bean, Brew, CoffeeSupply, Pot, PotKind
from htcpcp.vocabulary import COFFEE_TYPE, TEA_TYPE

__all__ = [
    "LAB_TIME",
    "alternates",
    "bean_properties",
    "lab_time",
    "pot_description",
    "pot_properties",
    "status_body",
]

LAB_TIME: Final = "%a, %d %b %Y %H:%M:%S"
"""How the lab writes a time: local time, without a zone."""


def lab_time(seconds: float | None) -> str:
    """C{seconds} as the lab writes a time, or C{""} for none."""
    return "" if seconds is None else _lab_second(math.floor(seconds))


@lru_cache(maxsize=256)
def _lab_second(second: int) -> str:
    """One whole second as the lab writes it (brews that start together share it)."""
    return time.strftime(LAB_TIME, time.localtime(second))


@lru_cache(maxsize=256)
def _iso_second(second: int) -> str:
    """One whole second in ISO 8601 UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))


@lru_cache(maxsize=64)
def bean_properties(bean: Bean) -> dict[str, Any]:
    """A bean's fields, as C{asdict} gives them (beans are few: made once each)."""
    return asdict(bean)


def status_body(pot: Pot, brew: Brew | None = None) -> bytes:
    """
    A pot's GET body, as compact ASCII JSON: C{{}} when empty, else the
    lab's keys and more.

    The lab's web client reads C{date}, C{beverage_type} (C{"Coffee"} or
    C{"Tea"}), C{additions} (as it sent them), C{brew_time_end},
    C{pour_milk_start} (with milk: when it starts pouring, known from the
    start; else C{""}), C{pour_milk_stop} (C{false} until the milk has
    stopped) and C{coffee_bean}, with times in local time; the ISO 8601 UTC
    times and the rest are ours.  It is written from pieces: the ones a
    pot's brews share (its name, bean, additions; the times of one second)
    are encoded once, so an answer to a change costs no encoding of a whole
    status.
    """
    brew = brew or pot.current
    if brew is None:
        return b"{}"
    if brew is pot.current:
        state, seconds_left = pot.state.value, repr(round(pot.seconds_left(), 3))
    else:
        state, seconds_left = brew.outcome, "0"
    milk_start = _lab_json(brew.brew_end) if brew.milk else '""'
    return (
        f'{{"date":{_lab_json(brew.started)},"beverage_type":{_text(brew.beverage.capitalize())},'
        f'"additions":{_names_json(brew.additions)},"brew_time_end":{_lab_json(brew.brew_end)},'
        f'"pour_milk_start":{milk_start},"pour_milk_stop":{_BOOLEAN[brew.pour_stop is not None]},'
        f'"coffee_bean":{_bean_json(brew.bean)},"id":{_text(brew.id)},'
        f'"pot":{_text(pot.name)},"pot_index":{pot.index},"state":{_text(state)},'
        f'"outcome":{_text(brew.outcome)},"variety":{_optional_text(brew.variety)},'
        f'"milk":{_BOOLEAN[brew.milk]},"strength":{brew.strength!r},'
        f'"seconds_left":{seconds_left},"started_at":{_iso_json(brew.started)},'
        f'"brew_end_at":{_iso_json(brew.brew_end)},"pour_start_at":{_iso_json(brew.pour_start)},'
        f'"pour_stop_at":{_iso_json(brew.pour_stop)},"stopped_at":{_iso_json(brew.stopped)}}}'
    ).encode("ascii")


_BOOLEAN: Final = ("false", "true")


def _text(value: str) -> str:
    return encode_basestring_ascii(value)


def _optional_text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _lab_json(seconds: float | None) -> str:
    return encode_basestring_ascii(lab_time(seconds))


def _iso_json(seconds: float | None) -> str:
    return "null" if seconds is None else encode_basestring_ascii(_iso_second(math.floor(seconds)))


@lru_cache(maxsize=64)
def _names_json(names: tuple[str, ...]) -> str:
    return "[" + ",".join(encode_basestring_ascii(name) for name in names) + "]"


@lru_cache(maxsize=64)
def _bean_json(bean: Bean | None) -> str:
    if bean is None:
        return "{}"
    return json.dumps(bean_properties(bean), separators=(",", ":"))


def pot_properties(pot: Pot) -> dict[str, Any]:
    """What a pot is: its PROPFIND's C{pot}, and its entry in the list of pots."""
    spec = pot.spec
    return {
        "name": pot.name,
        "index": pot.index,
        "kind": spec.kind.value,
        "state": pot.state.value,
        "brew_time": spec.brew_time,
        "pour_time": spec.pour_time,
        "additions": [a.name for a in spec.additions],
        "varieties": {v.name: v.steep_time for v in spec.varieties},
    }


def pot_description(pot: Pot) -> dict[str, Any]:
    """
    A pot's PROPFIND body: the bean's properties at the top (the lab's beans
    page reads them there), the pot's own under C{pot}, the bean in the cup
    under C{bean}.

    At the top, a coffee pot always has a bean: the one in the cup, else
    the one the next coffee will be made of.
    """
    brew = pot.current
    return {
        **(asdict(pot.bean) if pot.bean is not None else {}),
        "pot": pot_properties(pot),
        "bean": asdict(brew.bean) if brew and brew.bean else None,
        "beverage": brew.beverage if brew else None,
        "variety": brew.variety if brew else None,
    }


def alternates(pots: Sequence[Pot]) -> str:
    """
    The C{Alternates} header of RFC 7168 section 2.1.1: every coffee and
    tea on offer, each with its target and media type.
    """
    entries = []
    for pot in pots:
        if pot.spec.kind is PotKind.COFFEE or pot.spec.coffee is CoffeeSupply.YES:
            path = "/" if pot.index == 0 else f"/pot-{pot.index}"
            entries.append(f'{{"{path}" {{type {COFFEE_TYPE}}}}}')
        entries.extend(
            f'{{"/pot-{pot.index}/{v.name}" {{type {TEA_TYPE}}}}}' for v in pot.spec.varieties
        )
    return ", ".join(entries)
