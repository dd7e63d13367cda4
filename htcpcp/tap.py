"""
The C{twistd htcpcp} command: options and the service they describe.

    twistd -n htcpcp --pot tcp:5030
    twistd -n htcpcp --pot tcp:5030 --pot ssl:5443 --brew-time 5
"""

from __future__ import annotations

from pathlib import Path

from twisted.application.service import IService, MultiService
from twisted.python import usage

from htcpcp.config import ConfigError, default_config, load_config
from htcpcp.service import makePotService


class Options(usage.Options):
    """Command-line options of C{twistd htcpcp}."""

    synopsis = "[--pot ENDPOINT]... [--data-dir DIR] [--config FILE] [--brew-time SECONDS]"
    longdesc = (
        "Serve HTCPCP coffee pots and teapots (RFC 2324, RFC 7168). ENDPOINT is a Twisted "
        "server endpoint string: tcp:5030, tcp:5030:interface=127.0.0.1, ssl:5443 (a bare ssl: "
        "generates a self-signed certificate into the data directory), or "
        "ssl:5443:privateKey=key.pem:certKey=cert.pem."
    )
    optParameters = [
        ["data-dir", "d", ".htcpcp", "Directory for the brew history and generated certificates."],
        ["config", "c", None, "INI file defining pots, names and timeouts."],
        ["brew-time", None, None, "Seconds every coffee pot takes to brew (default 30).", float],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["pot"] = []

    def opt_pot(self, description: str) -> None:
        """Serve the pots on this endpoint (repeatable), e.g. tcp:5030 or ssl:5443."""
        self["pot"].append(description)

    def postOptions(self) -> None:
        if not self["pot"]:
            raise usage.UsageError("give at least one --pot ENDPOINT, e.g. --pot tcp:5030")
        if self["brew-time"] is not None and not 0 < self["brew-time"] <= 86400:
            raise usage.UsageError("--brew-time must be between 0 and 86400 seconds")
        config = default_config()
        if self["config"]:
            path = Path(self["config"])
            try:
                config = load_config(path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError, ConfigError) as error:
                raise usage.UsageError(f"--config {path}: {error}") from error
        if self["brew-time"] is not None:
            config = config.with_brew_time(self["brew-time"])
        self["config-object"] = config


def makeService(options: Options) -> IService:
    """Build the service tree described by C{options}."""
    top = MultiService()
    pots = makePotService(options["config-object"], options["pot"], options["data-dir"])
    pots.setName("pots")
    pots.setServiceParent(top)
    return top
