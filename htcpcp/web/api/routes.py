# -*- test-case-name: tests.test_web_routes -*-
"""
The JSON API as a Klein application of its own, mounted at C{api/}.

Each route mirrors a page (C{api/pots} the home page, C{api/pots/N/beans},
C{api/history}, C{api/inspector}, C{api/test-CODE}) with the same pot
requests, and answers with the document of L{htcpcp.web.api.documents}.
It changes nothing, so it needs no session and no form.  Errors are JSON
too (L{json_error}), with the status and words of the page's error
(L{htcpcp.web.pots.errors.from_failure}); tracebacks stay in the log.

The site's application mounts it (L{ApiApplication.resource}); it imports
no HTML module.
"""

from __future__ import annotations

from collections.abc import Mapping

from klein import Klein, Response
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource

from htcpcp.web.api.documents import (
    beans_document,
    diagnostic_document,
    error_document,
    exchange_document,
    snapshot_document,
)
from htcpcp.web.http.queries import query_text
from htcpcp.web.http.responses import json_response
from htcpcp.web.http.routing import handle_errors, route
from htcpcp.web.pots.diagnostics import diagnose
from htcpcp.web.pots.errors import ErrorPage, from_failure, web_error
from htcpcp.web.pots.gateway import PotGateway
from htcpcp.web.pots.history import history_for
from htcpcp.web.pots.inspector import Inspector

__all__ = ["ApiApplication", "json_error"]

log = Logger()


def json_error(error: ErrorPage, headers: Mapping[str, str] | None = None) -> Response:
    """C{error} as the API answers it: its document, with its status and headers."""
    return json_response(
        error_document(error), error.status, {**error.headers(), **(headers or {})}
    )


class ApiApplication:
    """
    The API's routes over one L{PotGateway}.

    @param gateway: the way to the pots.
    @param inspector: the recent exchanges with the pot.
    """

    app = Klein()

    def __init__(self, gateway: PotGateway, inspector: Inspector) -> None:
        self._gateway = gateway
        self._inspector = inspector

    def resource(self) -> IResource:
        """The Klein resource of the API, to mount."""
        return self.app.resource()

    @route(app, "/pots", methods=["GET"])
    async def pots(self, request: IRequest) -> Response:
        """Every pot's status, as C{events} sends it."""
        snapshot = await self._gateway.snapshot()
        document = snapshot_document(snapshot, self._gateway.now())
        status = snapshot.problem.status if snapshot.problem else 200
        return json_response(document, status)

    @route(app, "/pots/<int:index>/beans", methods=["GET"])
    async def beans(self, request: IRequest, index: int) -> Response:
        """A pot's catalogue and its answer to PROPFIND."""
        info, body = await self._gateway.beans(await self._gateway.pot(index))
        return json_response(beans_document(info, body))

    @route(app, "/history", methods=["GET"])
    async def history(self, request: IRequest) -> Response:
        """The page of the brew history the query asks for."""
        history = await history_for(self._gateway, request, charts=False)
        return json_response(history.listing)

    @route(app, "/inspector", methods=["GET"])
    def inspector(self, request: IRequest) -> Response:
        """The recent exchanges with the pot, newest first."""
        changes_only = query_text(request, b"show") == "changes"
        exchanges = self._inspector.recent(changes_only)
        return json_response({"exchanges": [exchange_document(e) for e in exchanges]})

    @route(app, "/test-<string:code>", methods=["GET"])
    async def diagnostic(self, request: IRequest, code: str) -> Response:
        """Send one of the lab's bad requests; the pot's answer."""
        diagnostic, answer = await diagnose(self._gateway, code)
        return json_response(diagnostic_document(diagnostic, answer))

    @handle_errors(app, Exception)
    async def failed(self, request: IRequest, failure: Failure) -> Response:
        known = from_failure(failure, self._gateway.redact)
        if known is None:
            log.failure("the web front end failed on {uri}", failure, uri=request.uri)
            return json_error(web_error(500))
        return json_error(*known)
