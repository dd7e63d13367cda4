"""
The C{twistd htcpcp} command: options and the service they describe.

    twistd -n htcpcp --pot tcp:5030 --web ssl:5031
    twistd -n htcpcp --pot tcp:5030 --pot ssl:5443 --brew-time 5
    twistd -n htcpcp --web ssl:5031 --pot-at tls:pots.example:5030:trustRoots=/etc/htcpcp/ca
"""

from __future__ import annotations

from pathlib import Path

from twisted.application.service import IService, MultiService
from twisted.python import usage

from htcpcp.config import ConfigError, default_config, load_config
from htcpcp.service import HISTORY_FILE, makePotService
from htcpcp.storage import HistoryUnusable, verify


class Options(usage.Options):
    """Command-line options of C{twistd htcpcp}."""

    synopsis = (
        "[--pot ENDPOINT]... [--web ENDPOINT [--pot-at CLIENT_ENDPOINT]] [--data-dir DIR]"
        " [--config FILE] [--brew-time SECONDS]"
    )
    longdesc = (
        "Serve HTCPCP coffee pots and teapots (RFC 2324, RFC 7168), and a web front end for "
        "them. ENDPOINT is a Twisted server endpoint string: tcp:5030, "
        "tcp:5030:interface=127.0.0.1, ssl:5443 (a bare ssl: generates a self-signed "
        "certificate into the data directory), or ssl:5443:privateKey=key.pem:certKey=cert.pem. "
        "The web front end reaches the pots over a real connection: by default the first --pot "
        "of this process, or any pot server given as a client endpoint with --pot-at "
        "(tcp:host:5030, tls:host:5030:trustRoots=DIR)."
    )
    optParameters = [
        ["data-dir", "d", ".htcpcp", "Directory for the brew history and generated certificates."],
        ["config", "c", None, "INI file defining pots, names and timeouts."],
        ["brew-time", None, None, "Seconds every coffee pot takes to brew (default 30).", float],
        ["web", None, None, "Serve the web front end on this endpoint, e.g. ssl:5031."],
        [
            "pot-at",
            None,
            None,
            "Client endpoint of the pot server the web front end uses"
            " (default: the first --pot of this process).",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["pot"] = []

    def opt_pot(self, description: str) -> None:
        """Serve the pots on this endpoint (repeatable), e.g. tcp:5030 or ssl:5443."""
        self["pot"].append(description)

    def postOptions(self) -> None:
        if not self["pot"] and not self["web"]:
            raise usage.UsageError(
                "give at least one --pot ENDPOINT (e.g. --pot tcp:5030), or --web ENDPOINT"
            )
        if self["pot-at"] and not self["web"]:
            raise usage.UsageError("--pot-at is where the web front end finds the pots: add --web")
        if self["web"] and not self["pot-at"]:
            if not self["pot"]:
                raise usage.UsageError(
                    "--web without --pot needs --pot-at CLIENT_ENDPOINT, e.g. tcp:pots.example:5030"
                )
            from htcpcp.web.service import pot_client_endpoint

            try:
                self["pot-at"] = pot_client_endpoint(self["pot"][0], self["data-dir"])
            except ValueError as error:
                raise usage.UsageError(f"--pot-at: {error}") from error
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
    """Build the service tree described by C{options}: the pots first, then the web."""
    top = MultiService()
    if options["pot"]:
        pots = makePotService(options["config-object"], options["pot"], options["data-dir"])
        pots.setName("pots")
        try:
            verify(str(pots.dataDir / HISTORY_FILE))
        except HistoryUnusable as error:
            raise SystemExit(f"twistd htcpcp: {error}") from None
        pots.setServiceParent(top)
    if options["web"]:
        from htcpcp.web.service import makeWebService

        web = makeWebService(options["web"], options["pot-at"], options["data-dir"])
        web.setName("web")
        web.setServiceParent(top)
    return top
