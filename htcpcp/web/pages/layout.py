# -*- test-case-name: tests.test_web_routes -*-
"""
The page frame every HTML page shares, and the little pieces pages reuse.

Pages are twisted.web.template tags built in Python: escaping is automatic
and there is no second template language.  Nothing here is inline script or
style (the Content-Security-Policy forbids both): behaviour comes from
C{static/app.js}, looks from C{static/style.css}, and every page works
without either.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

from twisted.web.template import Flattenable, Tag, tags

from htcpcp.web.http.mount import Mount
from htcpcp.web.http.sessions import csrf_glue
from htcpcp.web.http.statics import asset_url

__all__ = ["NAVIGATION", "NONCE_FIELD", "THEMES", "PageContext", "new_nonce", "page"]

THEMES: Final = ("light", "dark")
NONCE_FIELD: Final = b"nonce"
"""The hidden field of every form that holds its view's nonce."""
NAVIGATION: Final = (
    ("", "Pots"),
    ("history", "History"),
    ("inspector", "Inspector"),
    ("diagnostics", "Diagnostics"),
)


def new_nonce() -> str:
    """A nonce for one view's forms (see L{htcpcp.web.forms.outcomes.Outcomes.once})."""
    return secrets.token_hex(16)


class PageContext(NamedTuple):
    """
    What every page needs to know about its request.

    @ivar token: the CSRF token of the browser's session, or C{None} when
        there is no session (then no form is shown).
    @ivar theme: the theme the browser chose, or C{None} to follow its system.
    @ivar nonce: this view's forms' nonce (a repeated submission of one of
        them is answered as the first was).
    """

    mount: Mount
    token: str | None = None
    theme: str | None = None
    nonce: str | None = None

    def url(self, relative: str = "") -> str:
        """C{relative} (a path below the mount point) as a link from this page."""
        return self.mount.url(relative)

    def post_form(self, action: str, *children: Flattenable, **attributes: Any) -> Tag:
        """A state-changing form with its CSRF token; empty without a session."""
        if self.token is None:
            return tags.transparent()
        nonce = tags.input(type="hidden", name=NONCE_FIELD.decode(), value=self.nonce or "")
        return tags.form(method="post", action=self.url(action), **attributes)(
            *csrf_glue(self.token), nonce, *children
        )


def _theme_form(context: PageContext) -> Tag:
    return context.post_form(
        "theme",
        tags.input(type="hidden", name="next", value=context.mount.here),
        *(
            tags.button(
                type="submit",
                name="theme",
                value=theme,
                class_="theme-choice",
                title=f"Use the {theme} theme",
                **{"aria-pressed": "true" if context.theme == theme else "false"},
            )(theme.capitalize())
            for theme in THEMES
        ),
        class_="theme-form",
        id="theme-form",
    )


def _navigation(context: PageContext, current: str | None) -> Tag:
    items = []
    for path, label in NAVIGATION:
        link = tags.a(href=context.url(path))(label)
        if path == current:
            link.attributes["aria-current"] = "page"
        items.append(tags.li(link))
    return tags.nav(class_="site-nav", **{"aria-label": "Main"})(tags.ul(*items))


def page(
    context: PageContext,
    title: str,
    content: Iterable[Flattenable],
    *,
    current: str | None = None,
    live: bool = False,
    refresh: int | None = None,
) -> Tag:
    """
    A whole HTML page.

    @param current: the navigation entry this page belongs to, if any.
    @param live: whether the page follows the pots' live status.
    @param refresh: seconds after which a browser without script reloads
        the page (while a pot is changing), or C{None}.
    """
    html_attributes = {"lang": "en"}
    if context.theme in THEMES:
        html_attributes["data-theme"] = context.theme
    body_attributes = {
        "data-events": context.url("events"),
        "data-status": context.url("api/pots"),
    }
    if live:
        body_attributes["data-live"] = "1"
    return tags.html(**html_attributes)(
        tags.head(
            tags.meta(charset="utf-8"),
            tags.meta(name="viewport", content="width=device-width, initial-scale=1"),
            tags.meta(name="color-scheme", content="light dark"),
            tags.title(f"{title} · HTCPCP"),
            tags.link(rel="stylesheet", href=context.url(asset_url("style.css"))),
            tags.link(rel="icon", href=context.url(asset_url("favicon.svg")), type="image/svg+xml"),
            tags.script(src=context.url(asset_url("app.js")), defer="defer"),
            tags.noscript(tags.meta(**{"http-equiv": "refresh", "content": str(refresh)}))
            if refresh is not None
            else "",
        ),
        tags.body(**body_attributes)(
            tags.a(href="#main", class_="skip-link")("Skip to the content"),
            tags.header(class_="site-header")(
                tags.a(href=context.url(), class_="brand")(
                    tags.img(
                        src=context.url(asset_url("cup.svg")), alt="", width="32", height="32"
                    ),
                    tags.span("HTCPCP"),
                ),
                _navigation(context, current),
                _theme_form(context),
            ),
            Tag("main", attributes={"id": "main"})(*content),
            tags.footer(class_="site-footer")(
                tags.p(
                    "Hyper Text Coffee Pot Control Protocol: ",
                    tags.a(href="https://www.rfc-editor.org/rfc/rfc2324")("RFC 2324"),
                    " and ",
                    tags.a(href="https://www.rfc-editor.org/rfc/rfc7168")("RFC 7168"),
                    ".",
                )
            ),
        ),
    )
