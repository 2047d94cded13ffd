"""Cursor pagination of the API's lists (API-1): `?limit=50&cursor=<opaque>` in,
`{"data": [...], "next_cursor": "..."}` out, newest first by id.

A cursor is the last id of the page, base64-encoded so clients treat it as opaque; it is
range-checked like every id (lib.ids.as_id) and a broken one is a 400, not a 500. Keyset
pagination costs the same on page 1 and page 10 000, and rows inserted meanwhile never
shift a page.
"""
from __future__ import annotations

import base64
import binascii

from flask_babel import gettext as _
from marshmallow import Schema, fields, validate

from ..extensions import db
from ..lib.ids import as_id
from .problems import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class PageArgs(Schema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                           metadata={"description": "Itens por página (1 a 100)."})
    cursor = fields.String(load_default=None, validate=validate.Length(max=40),
                           metadata={"description": "O `next_cursor` da página anterior."})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The envelope of a list of `item`."""
    return Schema.from_dict({
        "data": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(allow_none=True, required=True,
                                     metadata={"description": "Cursor da próxima página; null na última."}),
    }, name=name)


def encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(str(row_id).encode()).decode().rstrip("=")


def decode(cursor: str | None) -> int | None:
    if cursor in (None, ""):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    row_id = as_id(text)
    if row_id is None:
        raise ApiError(400, _("Cursor inválido: use o next_cursor da página anterior."))
    return row_id


def page(query, id_column, args: dict) -> dict:
    """One page of `query` (a select of rows), newest first."""
    limit = args.get("limit") or DEFAULT_LIMIT
    after = decode(args.get("cursor"))
    if after is not None:
        query = query.where(id_column < after)
    rows = list(db.session.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": encode(rows[-1].id) if more and rows else None}
