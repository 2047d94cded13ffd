"""The error a rule raises to refuse something, with a message for the user.

Here rather than in services so that plumbing (phones, documents, CSV files) can refuse
input with the same error the rules use; services re-exports it.
"""


class RuleError(ValueError):
    """A business rule refused the change; the message is shown to the user as is."""
