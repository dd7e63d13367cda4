# -*- test-case-name: tests.test_check -*-
"""
What a case sees: where the server is, ways to send it requests (the lab's
exact bytes, or HTCPCP/HTTP requests built from the command line's URL and
paths), and the checks that end a case with a sentence a student can act on.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from twisted.internet.task import deferLater

from htcpcp.check.model import Attempt, CaseFailed, CaseSkipped, Ending
from htcpcp.check.wire import Segment, ServerAddress, exchange
from htcpcp.message import Response

__all__ = ["LAB_TARGET", "LAB_TYPE", "CaseContext", "Settings"]

LAB_TARGET: Final = "coffee://ducky"
"""The target every request of the lab's web app names."""

LAB_TYPE: Final = "application/coffee-pot-command"
"""The Content-Type the lab's web app sends on every request."""

COFFEE_TYPE: Final = "message/coffeepot"
TEA_TYPE: Final = "message/teapot"


@dataclass(frozen=True)
class Settings:
    """
    One run's settings.

    @ivar authority: C{host[:port]} as written in the URL, for absolute targets.
    @ivar timeout: seconds each connection may wait for the server.
    @ivar brew_wait: the longest a case waits for a brew to finish.
    """

    server: ServerAddress
    authority: str
    coffee_path: str = "/pot-0"
    teapot_path: str = "/pot-1"
    timeout: float = 3.0
    brew_wait: float = 40.0


def _segments(parts: Sequence[bytes | Segment]) -> list[Segment]:
    return [p if isinstance(p, Segment) else Segment(p) for p in parts]


class CaseContext:
    """The requests and checks one case uses; it keeps every connection made."""

    def __init__(
        self, reactor: Any, settings: Settings, shared: dict[str, object] | None = None
    ) -> None:
        self.reactor = reactor
        self.settings = settings
        self.attempts: list[Attempt] = []
        self._housekeeping: list[Attempt] = []
        self.shared: dict[str, object] = {} if shared is None else shared
        """State one case leaves for a later one in the same run (a finished brew)."""

    # Sending

    async def send(
        self,
        *parts: bytes | Segment,
        finals: int = 1,
        heads: Sequence[bool] = (),
        read_to_close: bool = False,
        timeout: float | None = None,
    ) -> Attempt:
        """Write C{parts} on a new connection and read the answers (see L{exchange})."""
        attempt = await exchange(
            self.reactor,
            self.settings.server,
            _segments(parts),
            finals=finals,
            heads=heads,
            read_to_close=read_to_close,
            timeout=self.settings.timeout if timeout is None else timeout,
        )
        self.attempts.append(attempt)
        return attempt

    async def lab(
        self,
        method: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        target: str = LAB_TARGET,
        content_type: str | None = LAB_TYPE,
    ) -> Attempt:
        """Send what the lab's web app sends: HTTP/1.1, its Content-Type, no length."""
        lines = [f"{method} {target} HTTP/1.1"]
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        return await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def coffee_url(self, path: str | None = None) -> str:
        """An absolute coffee URL on the server under test (the coffee pot by default)."""
        return self._url(self.settings.coffee_path if path is None else path)

    def tea_url(self, path: str | None = None) -> str:
        """An absolute coffee URL of the teapot (or of C{path})."""
        return self._url(self.settings.teapot_path if path is None else path)

    def _url(self, path: str) -> str:
        return f"coffee://{self.settings.authority}{path}"

    def build(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        version: str = "HTTP/1.1",
        length: bool = True,
    ) -> bytes:
        """A request with C{Content-Length} for its body (unless C{length} is false)."""
        lines = [f"{method} {target} {version}", *(f"{n}: {v}" for n, v in headers)]
        if body and length:
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body

    async def request(
        self,
        method: str,
        target: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        version: str = "HTTP/1.1",
        **reading: Any,
    ) -> Attempt:
        """Send one request (to the coffee pot's absolute URL by default)."""
        data = self.build(method, target or self.coffee_url(), headers, body, version)
        return await self.send(data, heads=[method == "HEAD"], **reading)

    async def brew(
        self,
        target: str | None = None,
        command: bytes = b"start",
        content_type: str = COFFEE_TYPE,
        headers: Sequence[tuple[str, str]] = (),
        method: str = "BREW",
    ) -> Attempt:
        """A BREW (or POST) with C{command} as its body and a Content-Length."""
        return await self.request(
            method, target, [("Content-Type", content_type), *headers], command
        )

    async def empty_pot(self, target: str | None = None, content_type: str = COFFEE_TYPE) -> None:
        """Stop whatever the pot does and take the cup away: C{stop} twice, answers ignored."""
        for _ in range(2):
            self._housekeeping.append(await self.brew(target, b"stop", content_type))

    async def empty_lab_pot(self) -> None:
        """L{empty_pot} with the lab's bytes."""
        for _ in range(2):
            self._housekeeping.append(await self.lab("BREW", body=b"stop"))

    async def wait(self, seconds: float) -> None:
        await deferLater(self.reactor, max(0.0, seconds))

    # Checking

    def fail(self, sentence: str, attempt: Attempt | None = None) -> CaseFailed:
        """The failure to raise: C{raise context.fail(...)}."""
        return CaseFailed(sentence, attempt if attempt is not None else self.last)

    def skip(self, reason: str) -> CaseSkipped:
        return CaseSkipped(reason)

    @property
    def last(self) -> Attempt | None:
        """The latest connection that was not housekeeping (emptying the pot)."""
        checked = [a for a in self.attempts if all(a is not h for h in self._housekeeping)]
        return checked[-1] if checked else None

    def answer(self, attempt: Attempt, hint: str = "") -> Response:
        """The response C{attempt} read, or a failure saying what the server did instead."""
        response = attempt.response
        if response is not None:
            return response
        raise self.fail(_no_answer(attempt, hint), attempt)

    def expect(self, condition: bool, sentence: str, attempt: Attempt | None = None) -> None:
        if not condition:
            raise self.fail(sentence, attempt)

    def status(
        self, attempt: Attempt, wanted: int | Collection[int], sentence: str, hint: str = ""
    ) -> Response:
        """The response, which must have one of the C{wanted} statuses."""
        response = self.answer(attempt, hint)
        allowed = {wanted} if isinstance(wanted, int) else set(wanted)
        if response.status not in allowed:
            raise self.fail(f"got {response.status}: {sentence}", attempt)
        return response

    def last_line_json(self, attempt: Attempt, hint: str) -> Any:
        """The JSON on the last line of the answer, read the way the lab's web app reads it."""
        lines = attempt.received.decode("utf-8", "replace").splitlines()
        last = lines[-1] if lines else ""
        try:
            return json.loads(last)
        except ValueError:
            raise self.fail(
                f"the last line of the answer, {last[:80]!r}, is not JSON: {hint}", attempt
            ) from None


def _no_answer(attempt: Attempt, hint: str) -> str:
    waited = f"{attempt.elapsed:.1f} s"
    if attempt.ending is Ending.REFUSED:
        said = attempt.error or "the connection failed"
    elif attempt.problem:
        said = f"the answer is not an HTTP response ({attempt.problem})"
    elif attempt.ending is Ending.TIMEOUT and not attempt.received:
        said = f"no answer within {waited} (the server hung or is waiting for more)"
    elif attempt.ending is Ending.TIMEOUT:
        said = (
            f"the answer did not end within {waited}"
            " (without a Content-Length the server must close the connection)"
        )
    elif attempt.ending is Ending.OVERFLOW:
        said = "the server sent more than 64 KiB"
    elif not attempt.received:
        said = "the server closed the connection without answering"
    else:
        said = "the server closed the connection in the middle of its answer"
    return f"{said}; {hint}" if hint else said
