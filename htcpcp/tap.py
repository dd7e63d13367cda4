# -*- test-case-name: tests.test_twistd -*-
"""
The C{twistd htcpcp} command: options and the service they describe.

    twistd -n htcpcp --pot tcp:5030 --web ssl:5031
    twistd -n htcpcp --lab
    twistd -n htcpcp --pot tcp:5030 --pot ssl:5443 --brew-time 5
    twistd -n htcpcp --web ssl:5031 --pot-at tls:pots.example:5030:trustRoots=/etc/htcpcp/ca

C{--lab} is the networking lab's set-up (docs/lab.md): the pot on 5030, the
web over plain HTTP on 5031, and the web talking to the pot as the lab's
web app does (a connection per request, the lab's dialect).

A port that is taken, or an endpoint that cannot be used, is one line on
standard error and exit status 1, before anything starts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Final

from twisted.application.service import IService, MultiService
from twisted.internet.error import CannotListenError
from twisted.logger import Logger
from twisted.python import usage

from htcpcp.client import CONNECTIONS, DIALECTS
from htcpcp.config import ConfigError, default_config, load_config
from htcpcp.listening import cannot_listen, probe
from htcpcp.service import HISTORY_FILE, makePotService
from htcpcp.storage import HistoryUnusable, verify
from htcpcp.tls import keylog_from

__all__ = ["LAB_POT", "LAB_WEB", "Options", "makeService", "reset_history"]

LAB_POT: Final = "tcp:5030"
LAB_WEB: Final = "tcp:5031"
OLD_HISTORY: Final = "old-history"
_SQLITE_SIDE_FILES: Final = ("", "-wal", "-shm", "-journal")

log = Logger()


class Options(usage.Options):
    """Command-line options of C{twistd htcpcp}."""

    synopsis = (
        "[--lab] [--pot ENDPOINT]... [--web ENDPOINT [--pot-at CLIENT_ENDPOINT]]"
        " [--data-dir DIR] [--config FILE] [--brew-time SECONDS] [--tls-keylog FILE]"
        " [--reset-history]"
    )
    longdesc = (
        "Serve HTCPCP coffee pots and teapots (RFC 2324, RFC 7168), and a web front end for "
        "them. ENDPOINT is a Twisted server endpoint string: tcp:5030 (every IPv4 and IPv6 "
        "address), tcp:5030:interface=127.0.0.1 (there only), ssl:5443 (a bare ssl: "
        "generates a self-signed certificate into the data directory), or "
        "ssl:5443:privateKey=key.pem:certKey=cert.pem. The web front end reaches the pots "
        "over a real connection: by default the first --pot of this process, or any pot "
        "server given as a client endpoint with --pot-at (tcp:host:5030, "
        "tls:host:5030:trustRoots=DIR). --lab is the networking lab's set-up: --pot "
        f"{LAB_POT} --web {LAB_WEB} --pot-connections per-request --pot-dialect lab (each "
        "can still be given). SSLKEYLOGFILE is honoured as by browsers and curl."
    )
    optFlags = [
        ["lab", None, "The lab's set-up: pot on 5030, plain-HTTP web on 5031, lab's client."],
        [
            "reset-history",
            None,
            f"Start with an empty brew history; the old one is kept in DIR/{OLD_HISTORY}/.",
        ],
    ]
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
        [
            "pot-connections",
            None,
            None,
            "How the web front end connects to the pot: pooled (keep-alive, the default) or"
            " per-request (a new TCP connection for every request, as the lab's app).",
        ],
        [
            "pot-dialect",
            None,
            None,
            "How the web front end writes its requests: rfc (the default) or lab"
            " (coffee://ducky targets, HTTP/1.1, application/coffee-pot-command: the lab's app).",
        ],
        [
            "tls-keylog",
            None,
            None,
            "Append the TLS secrets of every connection to FILE (NSS key log format, for"
            " Wireshark); default: $SSLKEYLOGFILE when set.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["pot"] = []

    def opt_pot(self, description: str) -> None:
        """Serve the pots on this endpoint (repeatable), e.g. tcp:5030 or ssl:5443."""
        self["pot"].append(description)

    def _apply_lab(self) -> None:
        if not self["lab"]:
            self["pot-connections"] = self["pot-connections"] or "pooled"
            self["pot-dialect"] = self["pot-dialect"] or "rfc"
            return
        if not self["pot"] and not self["pot-at"]:
            self["pot"] = [LAB_POT]
        self["web"] = self["web"] or LAB_WEB
        self["pot-connections"] = self["pot-connections"] or "per-request"
        self["pot-dialect"] = self["pot-dialect"] or "lab"

    def postOptions(self) -> None:
        self._apply_lab()
        for name, allowed in (("pot-connections", CONNECTIONS), ("pot-dialect", DIALECTS)):
            if self[name] not in allowed:
                raise usage.UsageError(f"--{name} must be one of: {', '.join(allowed)}")
        if not self["pot"] and not self["web"]:
            raise usage.UsageError(
                "give at least one --pot ENDPOINT (e.g. --pot tcp:5030), or --web ENDPOINT,"
                " or --lab"
            )
        if self["pot-at"] and not self["web"]:
            raise usage.UsageError("--pot-at is where the web front end finds the pots: add --web")
        if self["web"] and not self["pot-at"]:
            if not self["pot"]:
                raise usage.UsageError(
                    "--web without --pot needs --pot-at CLIENT_ENDPOINT, e.g. tcp:pots.example:5030"
                )
            from htcpcp.web.web_service import pot_client_endpoint

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


def reset_history(data_dir: Path, now: float | None = None) -> Path | None:
    """
    Move the brew history of C{data_dir} (the SQLite file and its WAL and
    shared-memory files) into C{data_dir/old-history/}, stamped with the UTC
    time, so the next start has an empty one.

    @return: the moved database, or C{None} when there was none.
    """
    database = data_dir / HISTORY_FILE
    present = [s for s in _SQLITE_SIDE_FILES if Path(f"{database}{s}").exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    archive = data_dir / OLD_HISTORY
    archive.mkdir(parents=True, exist_ok=True)
    moved = archive / f"history-{stamp}.sqlite3"
    for suffix in present:
        Path(f"{database}{suffix}").rename(f"{moved}{suffix}")
    return moved


class _Servers(MultiService):
    """The pots and the web; one line and exit status 1 if one cannot listen."""

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except (CannotListenError, ValueError) as error:
            _give_up(cannot_listen(error) if isinstance(error, CannotListenError) else str(error))


def _give_up(message: str) -> None:
    """Say C{message} on standard error (twistd has taken C{sys.stderr}) and exit 1."""
    print(f"htcpcp: {message}", file=sys.__stderr__, flush=True)
    raise SystemExit(1)


def makeService(options: Options) -> IService:
    """
    Build the service tree described by C{options}: the pots first, then the
    web.  Every TCP and TLS port is checked first; with C{--reset-history},
    the history is moved aside once they are known to be free (so no server
    running on them loses its history).
    """
    descriptions = [*options["pot"], *([options["web"]] if options["web"] else [])]
    try:
        for description in descriptions:
            probe(description)
    except CannotListenError as error:
        _give_up(cannot_listen(error))
    data_dir = Path(options["data-dir"])
    if options["reset-history"] and options["pot"]:
        moved = reset_history(data_dir)
        log.warn(
            "--reset-history: {what}",
            what=f"the old brew history is now {moved.absolute()}" if moved else "no history yet",
        )
    try:
        return _build(options, data_dir)
    except ValueError as error:
        _give_up(str(error))
        raise


def _build(options: Options, data_dir: Path) -> IService:
    keylog = keylog_from(options["tls-keylog"])
    top = _Servers()
    if options["pot"]:
        pots = makePotService(options["config-object"], options["pot"], data_dir, keylog)
        pots.setName("pots")
        try:
            verify(str(pots.dataDir / HISTORY_FILE))
        except HistoryUnusable as error:
            raise SystemExit(f"twistd htcpcp: {error}") from None
        pots.setServiceParent(top)
    if options["web"]:
        from htcpcp.web.web_service import makeWebService

        web = makeWebService(
            options["web"],
            options["pot-at"],
            data_dir,
            keylog=keylog,
            connections=options["pot-connections"],
            dialect=options["pot-dialect"],
        )
        web.setName("web")
        web.setServiceParent(top)
    return top
