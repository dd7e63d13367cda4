# -*- test-case-name: tests.test_config -*-
"""
Server configuration: the lab's world by default, more pots from an INI file.

The default configuration answers to C{ducky} (and localhost and this
machine's names); pot-0 is the coffee pot C{ducky}, pot-1 the teapot C{tea}.
A configuration file (read with L{configparser}, so nothing to install)
replaces the pots and can add names, change timeouts and limit the brew
history kept (C{history-keep}: C{all}, the default; C{N days}; C{N brews})::

    [server]
    names = ducky, kitchen.example
    idle-timeout = 60
    history-keep = 90 days

    [pot:ducky]
    kind = coffee
    brew-time = 30
    additions = Cream, Whisky, Oat milk

    [pot:tea]
    kind = teapot
    varieties = darjeeling:180, earl-grey:240
    forbidden = peppermint:milk
    coffee = never
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field, replace
from typing import Final

from htcpcp.additions import addition_key
from htcpcp.addresses import LOOPBACK_NAMES, host_names, local_addresses
from htcpcp.message import DEFAULT_LIMITS, Limits
from htcpcp.pot import Addition, Bean, CoffeeSupply, PotKind, PotSpec, Variety
from htcpcp.retention import KEEP_ALL, Retention, parse_retention

__all__ = [
    "BEANS",
    "COFFEE_ADDITIONS",
    "TEA_ADDITIONS",
    "Config",
    "ConfigError",
    "default_config",
    "load_config",
]

_MILKS = ("Cream", "Half-and-half", "Whole-milk", "Part-Skim", "Skim", "Non-Dairy")
_LAB_MILKS = ("Oat milk", "Soya milk", "Coconut milk", "Almond milk")

COFFEE_ADDITIONS: Final = (
    *(Addition(name, "milk") for name in _MILKS),
    *(Addition(name, "syrup") for name in ("Vanilla", "Almond", "Raspberry", "Chocolate")),
    *(Addition(name, "alcohol") for name in ("Whisky", "Rum", "Kahlua", "Aquavit")),
    *(Addition(name, "sweetener") for name in ("Sugar", "Xylitol", "Stevia")),
    *(Addition(name, "milk") for name in _LAB_MILKS),
)
"""RFC 2324's additions, RFC 7168's sugars and the lab's plant milks."""

TEA_ADDITIONS: Final = (
    *(Addition(name, "milk") for name in _MILKS),
    *(Addition(name, "sweetener") for name in ("Sugar", "Xylitol", "Stevia", "Honey")),
    Addition("Lemon", "citrus"),
    *(Addition(name, "milk") for name in _LAB_MILKS),
)

TEA_VARIETIES: Final = (
    Variety("darjeeling", 180.0),
    Variety("earl-grey", 240.0),
    Variety("english-breakfast", 240.0),
    Variety("green", 120.0),
    Variety("peppermint", 300.0),
)

BEANS: Final = (
    Bean("Yirgacheffe", "floral, bergamot, lemon", "Ethiopia", "Arabica", 3, "light"),
    Bean("Huila", "caramel, red apple", "Colombia", "Arabica", 3, "medium"),
    Bean("Antigua", "cocoa, spice, smoke", "Guatemala", "Arabica", 4, "medium-dark"),
    Bean("Kona", "brown sugar, milk chocolate", "Hawaii, USA", "Arabica", 2, "medium"),
    Bean("Sumatra Mandheling", "earthy, cedar, dark chocolate", "Indonesia", "Arabica", 5, "dark"),
    Bean("Nyeri AA", "blackcurrant, grapefruit", "Kenya", "Arabica", 4, "light-medium"),
    Bean("Tarrazu", "honey, citrus, clean", "Costa Rica", "Arabica", 3, "medium"),
    Bean("Cerrado", "nutty, low acidity", "Brazil", "Arabica", 3, "medium-dark"),
    Bean("Robusta Dak Lak", "bitter, woody, strong", "Vietnam", "Robusta", 5, "dark"),
    Bean("Blue Mountain", "mild, sweet, balanced", "Jamaica", "Arabica", 2, "medium"),
)
"""The ten beans a coffee pot chooses from."""


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the reason."""


@dataclass(frozen=True)
class Config:
    """
    Everything the pot server needs to know.

    @ivar names: host names the server answers to (besides its own).
    @ivar request_timeout: seconds within which a TLS handshake, and each whole
        request (head and body), must arrive.
    @ivar idle_timeout: seconds an idle keep-alive connection stays open.
    @ivar body_quiet_time: seconds of silence that end a length-less body.
    @ivar history_keep: how much brew history to keep (C{history-keep}).
    """

    pots: tuple[PotSpec, ...]
    names: frozenset[str] = frozenset({"ducky"})
    beans: tuple[Bean, ...] = BEANS
    request_timeout: float = 10.0
    idle_timeout: float = 60.0
    body_quiet_time: float = 0.5
    limits: Limits = field(default=DEFAULT_LIMITS)
    history_keep: Retention = KEEP_ALL

    def with_brew_time(self, seconds: float) -> Config:
        """The same configuration with every coffee pot brewing in C{seconds}."""
        pots = tuple(
            replace(p, brew_time=seconds) if p.kind is PotKind.COFFEE else p for p in self.pots
        )
        return replace(self, pots=pots)

    def host_names(self) -> frozenset[str]:
        """
        The configured names, localhost, and this machine's own names and
        addresses (every interface's, the LAN's included: L{htcpcp.addresses}).
        """
        names = {n.lower() for n in self.names}
        names.update(LOOPBACK_NAMES)
        names.update(host_names())
        names.update(local_addresses())
        return frozenset(names)


def default_config() -> Config:
    """The lab's world: coffee pot C{ducky} (pot-0) and teapot C{tea} (pot-1)."""
    return Config(
        pots=(
            PotSpec("ducky", PotKind.COFFEE, 30.0, 10.0, COFFEE_ADDITIONS),
            PotSpec(
                "tea",
                PotKind.TEAPOT,
                180.0,
                10.0,
                TEA_ADDITIONS,
                TEA_VARIETIES,
                forbidden=(("peppermint", "milk"), ("green", "milk"), ("*", "alcohol")),
                coffee=CoffeeSupply.NEVER,
            ),
        )
    )


def _number(section: configparser.SectionProxy, key: str, default: float) -> float:
    try:
        value = section.getfloat(key, fallback=default)
    except ValueError as error:
        raise ConfigError(f"[{section.name}] {key}: not a number") from error
    if value is None or value < 0:
        raise ConfigError(f"[{section.name}] {key}: must be zero or more")
    return value


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _configured_additions(
    value: str | None, defaults: tuple[Addition, ...]
) -> tuple[Addition, ...]:
    if value is None or value.strip().lower() == "default":
        return defaults
    known = {addition_key(a.name): a for a in (*COFFEE_ADDITIONS, *TEA_ADDITIONS)}
    result = []
    for item in _split(value):
        name, _, kind = item.partition(":")
        name = name.strip()
        result.append(
            Addition(name, kind.strip())
            if kind
            else known.get(addition_key(name)) or Addition(name, "other")
        )
    return tuple(result)


def _pot(section: configparser.SectionProxy) -> PotSpec:
    name = section.name.partition(":")[2].strip()
    if not name or name.lower() in ("log", "pots") or name.lower().startswith("pot-"):
        raise ConfigError(
            f"[{section.name}]: a pot needs a name other than 'log', 'pots' or 'pot-N'"
        )
    try:
        kind = PotKind(section.get("kind", "coffee").strip().lower())
        coffee = CoffeeSupply(section.get("coffee", "never").strip().lower())
    except ValueError as error:
        raise ConfigError(f"[{section.name}]: {error}") from error
    teapot = kind is PotKind.TEAPOT
    varieties: tuple[Variety, ...] = TEA_VARIETIES if teapot else ()
    if "varieties" in section:
        listed = []
        for item in _split(section["varieties"]):
            variety, _, seconds = item.partition(":")
            try:
                listed.append(Variety(variety.strip(), float(seconds or 180)))
            except ValueError as error:
                raise ConfigError(f"[{section.name}] varieties: bad steep time") from error
        varieties = tuple(listed)
    forbidden = tuple(
        (a.strip(), b.strip())
        for a, _, b in (item.partition(":") for item in _split(section.get("forbidden", "")))
    )
    return PotSpec(
        name=name,
        kind=kind,
        brew_time=_number(section, "brew-time", 180.0 if teapot else 30.0),
        pour_time=_number(section, "pour-time", 10.0),
        additions=_configured_additions(
            section.get("additions"), TEA_ADDITIONS if teapot else COFFEE_ADDITIONS
        ),
        varieties=varieties,
        forbidden=forbidden,
        coffee=coffee if teapot else CoffeeSupply.YES,
    )


def load_config(text: str, source: str = "<config>") -> Config:
    """
    Read an INI configuration.

    @raise ConfigError: with a message naming the section and key at fault.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source)
    except configparser.Error as error:
        raise ConfigError(str(error)) from error
    base = default_config()
    pots = tuple(_pot(parser[s]) for s in parser.sections() if s.startswith("pot:"))
    if len({p.name.lower() for p in pots}) != len(pots):
        raise ConfigError("two pots have the same name")
    server = parser["server"] if parser.has_section("server") else parser[parser.default_section]
    names = frozenset(_split(server.get("names", ""))) or base.names
    return replace(
        base,
        pots=pots or base.pots,
        names=names,
        request_timeout=_number(
            server,
            "request-timeout",
            _number(server, "head-timeout", base.request_timeout),
        ),
        idle_timeout=_number(server, "idle-timeout", base.idle_timeout),
        body_quiet_time=_number(server, "body-quiet-time", base.body_quiet_time),
        history_keep=_retention(server),
    )


def _retention(section: configparser.SectionProxy) -> Retention:
    try:
        return parse_retention(section.get("history-keep", "all"))
    except ValueError as error:
        raise ConfigError(f"[{section.name}] history-keep: {error}") from error
