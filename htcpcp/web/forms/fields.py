# -*- test-case-name: tests.test_web_routes -*-
"""
The fields of the front end's forms, read and validated with Klein's L{Form}.

Each field has a shape and a length limit, so nothing odd reaches an
HTCPCP header: a pot is a number below L{POT_LIMIT}, a drink a short name,
an addition a short text without the characters that separate additions
in C{Accept-Additions}.  A field that does not validate is refused with a
400 that names it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import attr
from klein import Field
from klein.interfaces import ValidationError
from twisted.web.iweb import IRequest

from htcpcp.web.http.mount import safe_next
from htcpcp.web.pages.layout import THEMES
from htcpcp.web.pots.gateway import POT_LIMIT

__all__ = [
    "ADDITIONS_FIELD",
    "DRINK_FIELD",
    "NEXT_FIELD",
    "OTHER_FIELD",
    "POT_FIELD",
    "THEME_FIELD",
    "FormField",
]

MAX_ADDITIONS: Final = 20
MAX_NEXT: Final = 256
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}\Z")
ADDITION: Final = re.compile(r"[^\x00-\x1f\x7f,;\"=]{1,40}\Z")


@attr.s(auto_attribs=True, frozen=True)
class FormField(Field):
    """
    A form field that reads every value of its name, undecodable bytes replaced.

    Klein's L{Field} reads one value and fails with a 500 on bytes that are
    not UTF-8; C{many} fields get the list of values.
    """

    many: bool = False

    def extractValue(self, request: IRequest) -> Any:
        assert self.formFieldName is not None
        raw = request.args.get(self.formFieldName.encode("utf-8"))
        if not raw:
            return None
        values = [value.decode("utf-8", "replace") for value in raw]
        return values if self.many else values[0]


def _pot_index(text: str) -> int:
    if not text.isdigit() or int(text) >= POT_LIMIT:
        raise ValidationError("no such pot")
    return int(text)


def _name(text: str) -> str:
    if not NAME.match(text):
        raise ValidationError("a drink is up to 40 letters, digits and dashes")
    return text


def _addition(text: str) -> str:
    text = text.strip()
    if not ADDITION.match(text):
        raise ValidationError('an addition is up to 40 characters, without , ; " or =')
    return text


def _additions(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_ADDITIONS:
        raise ValidationError(f"at most {MAX_ADDITIONS} additions")
    return tuple(_addition(value) for value in values)


def _other(text: str) -> str:
    return _addition(text) if text.strip() else ""


def _theme(text: str) -> str:
    if text not in THEMES:
        raise ValidationError("the theme is light or dark")
    return text


def _next(text: str) -> str:
    return safe_next(text[:MAX_NEXT])


POT_FIELD: Final = FormField(converter=_pot_index, formInputType="number")
DRINK_FIELD: Final = FormField(converter=_name, formInputType="text")
ADDITIONS_FIELD: Final = FormField(
    converter=_additions, formInputType="checkbox", required=False, default=(), many=True
)
OTHER_FIELD: Final = FormField(converter=_other, formInputType="text", required=False, default="")
THEME_FIELD: Final = FormField(converter=_theme, formInputType="submit")
NEXT_FIELD: Final = FormField(
    converter=_next, formInputType="hidden", formFieldName="next", required=False, default=""
)
