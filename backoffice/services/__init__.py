"""Domain rules, free of HTTP: views, socket handlers, jobs and the CLI call these."""


class RuleError(ValueError):
    """A business rule refused the change; the message is shown to the user as is."""


# Ids from requests are range-checked in one place (SEC-7), with no business rule in it:
# lib.ids, re-exported here for the services and views that import it from services.
from ..lib.ids import INT32_MAX, INT64_MAX, MAX_ID, MAX_ID_DIGITS, as_id, max_int  # noqa: E402,F401
