"""Fields every API schema shares."""
from __future__ import annotations

from datetime import timezone

from marshmallow import fields, validate

from ..lib.ids import MAX_ID

ID = validate.Range(1, MAX_ID)  # an id in a body: the range of lib.ids.as_id (SEC-7)


class UtcDateTime(fields.DateTime):
    """A stored (naive UTC) time written as ISO 8601 with its offset, +00:00."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)
