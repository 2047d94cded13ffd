"""Domain rules, free of HTTP: views, socket handlers, jobs and the CLI call these."""


class RuleError(ValueError):
    """A business rule refused the change; the message is shown to the user as is."""


MAX_ID = 2**31 - 1


def as_id(value) -> int | None:
    """A row id from a URL, JSON or a form: an int or a string of digits within the
    primary keys' range; None for anything else (1.5, True, "1 or 1=1", 2**40: ids are
    32-bit INTEGER columns, and PostgreSQL refuses a larger value cast to one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        value = int(value.strip())
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    return None
