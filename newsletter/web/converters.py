"""Ids in URLs, bounded once: path segments (`<int:id>`) and keyset cursors (`?before=`, `?after=`).

Every id column is PostgreSQL's integer (models.MAX_ID); a larger number in a query is a database error there,
while SQLite takes it, so the bound lives here and nowhere else in the web layer.
"""

import builtins

from flask import Flask, request
from werkzeug.routing import IntegerConverter

from ..errors import InvalidInput
from ..models import MAX_ID


class IdConverter(IntegerConverter):
    """`<int:name>` in every route: a whole number from 0 to MAX_ID; a larger one matches no route (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else builtins.min(max, MAX_ID), signed)


def cursor_arg(name: str) -> int | None:
    """A keyset cursor from the query string (the API): None when absent; InvalidInput (400) unless 0 to MAX_ID."""
    value = request.args.get(name, "")
    if value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)) and int(value) <= MAX_ID):
        raise InvalidInput(f"'{name}' is a whole number from 0 to {MAX_ID}.", code="invalid_parameter")
    return int(value)


def page_cursor(name: str) -> int | None:
    """The same cursor for a page's "older" link: junk or out of range shows the first page, as a link can
    only be mangled, never meant."""
    try:
        return cursor_arg(name)
    except InvalidInput:
        return None


def init_app(app: Flask) -> None:
    """Every `<int:...>` of every blueprint gets the bound (registered before the blueprints)."""
    app.url_map.converters["int"] = IdConverter
