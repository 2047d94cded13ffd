"""Row ids typed by clients (URLs, JSON, forms) checked against their column's range
(SEC-7): one implementation for the admin screens (clean_ids), the JSON APIs and the
models' `get_owned`."""
from __future__ import annotations

from sqlalchemy import BigInteger, SmallInteger

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Every primary key is an INTEGER column: 32-bit on PostgreSQL.
MAX_ID = INT32_MAX
MAX_ID_DIGITS = len(str(INT64_MAX))


def max_int(column_type) -> int:
    """The largest value a column of this SQLAlchemy type holds on both backends (SEC-7):
    INTEGER is 32-bit on PostgreSQL, BIGINT 64-bit. SQLite stores either in 64 bits, so
    the PostgreSQL bound is the one that keeps both backends answering alike."""
    if isinstance(column_type, BigInteger):
        return INT64_MAX
    if isinstance(column_type, SmallInteger):
        return 2**15 - 1
    return INT32_MAX


def as_id(value, column=None) -> int | None:
    """A row id from a URL, JSON or a form: an int or a string of ASCII digits within the
    range of `column` (a mapped column, a Column or a type; default a 32-bit INTEGER);
    None for anything else (1.5, True, "1 or 1=1", "²", 2**31). PostgreSQL refuses a
    value beyond the column's type (a 500), SQLite one beyond 64 bits: out of range is
    simply "no such row". The one implementation for the admin (clean_ids) and the APIs."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # isascii: "²".isdigit() is True but int("²") raises; "١٢" would be read as 12
        if not (text.isascii() and text.isdigit()) or len(text) > MAX_ID_DIGITS:
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    limit = MAX_ID if column is None else max_int(getattr(column, "type", column))
    return value if 0 < value <= limit else None
