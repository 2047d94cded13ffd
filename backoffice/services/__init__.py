"""Domain rules, free of HTTP: views, socket handlers, jobs and the CLI call these."""

from ..lib.errors import RuleError  # noqa: F401  (raised by rules and plumbing alike)

# Ids from requests are range-checked in one place (SEC-7), with no business rule in it:
# lib.ids, re-exported here for the services and views that import it from services.
from ..lib.ids import INT32_MAX, INT64_MAX, MAX_ID, MAX_ID_DIGITS, as_id, max_int  # noqa: F401
