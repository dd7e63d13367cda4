"""
htcpcp: the Hyper Text Coffee Pot Control Protocol (RFC 2324, RFC 7168) on Twisted.

The embedding API: L{makePotService} builds the pot server as a service for
any Twisted application; L{buildPotServer} gives its protocol factory alone.
"""

from htcpcp.config import Config, default_config, load_config
from htcpcp.service import PotService, buildPotServer, makePotService

__all__ = [
    "Config",
    "PotService",
    "buildPotServer",
    "default_config",
    "load_config",
    "makePotService",
]
