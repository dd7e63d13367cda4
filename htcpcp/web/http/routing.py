# -*- test-case-name: tests.test_web_routes -*-
"""
Klein's route and error decorators, typed for the front end's handlers.

Klein types what a handler may answer as its C{KleinRenderable}, which
leaves out Klein's own L{Response} (the first thing Klein's resource looks
for) and a coroutine of one, though Klein renders both.  Every handler
here answers with a L{Response}, so Klein's decorators are used through
these, which are Klein's own with types that say what they keep: a route
handler keeps its signature, and L{early_exit} answers with a L{Response}.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from klein import Klein, Response
from klein.interfaces import EarlyExit
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest

__all__ = ["early_exit", "handle_errors", "route"]

Handler = TypeVar("Handler", bound=Callable[..., object])
ErrorMethod = Callable[[Any, IRequest, Failure], Awaitable[Response]]
"""An error handler: a method of the application, given the request and the failure."""


def route(
    app: Klein, url: str, *, methods: Sequence[str] | None = None, branch: bool = False
) -> Callable[[Handler], Handler]:
    """Klein's C{app.route(url, methods=methods, branch=branch)}."""
    allowed = None if methods is None else list(methods)
    return app.route(url, methods=allowed, branch=branch)  # type: ignore[return-value]  # Klein's KleinRenderable leaves out Response


def handle_errors(app: Klein, *exceptions: type[Exception]) -> Callable[[ErrorMethod], object]:
    """Klein's C{app.handle_errors(*exceptions)}: the handler for those failures."""
    first, *more = exceptions
    return app.handle_errors(first, *more)  # type: ignore[return-value]  # Klein's KleinRenderable leaves out Response


def early_exit(response: Response) -> EarlyExit:
    """Klein's L{EarlyExit}: the route answers C{response} without running."""
    return EarlyExit(response)  # type: ignore[arg-type]  # Klein's KleinRenderable leaves out Response
