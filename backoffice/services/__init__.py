"""Domain rules, free of HTTP: views, socket handlers, jobs and the CLI call these."""


class RuleError(ValueError):
    """A business rule refused the change; the message is shown to the user as is."""
