# -*- test-case-name: tests.test_pure_core -*-
"""
htcpcp: the Hyper Text Coffee Pot Control Protocol (RFC 2324, RFC 7168) on Twisted.

The embedding API: L{makePotService} builds the pot server as a service for
any Twisted application; L{buildPotServer} gives its protocol factory alone.

The names are loaded when first used, so importing the sans-IO core
(L{htcpcp.message}, L{htcpcp.pot}) loads neither a reactor nor TLS.

L{__version__} is the one place the version is written: the packaging
(C{pyproject.toml}), the pot server's C{Server} header and C{htcpcp --version}
read it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from htcpcp.config import Config, default_config, load_config
    from htcpcp.service import PotService, buildPotServer, makePotService

__version__: Final = "0.1.0"

__all__ = [
    "Config",
    "PotService",
    "buildPotServer",
    "default_config",
    "load_config",
    "makePotService",
]

_HOMES = {
    "Config": "htcpcp.config",
    "default_config": "htcpcp.config",
    "load_config": "htcpcp.config",
    "PotService": "htcpcp.service",
    "buildPotServer": "htcpcp.service",
    "makePotService": "htcpcp.service",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'htcpcp' has no attribute {name!r}")
    return getattr(import_module(home), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
