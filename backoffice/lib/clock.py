"""The app's one clock: naive UTC, as every timestamp is stored.

Everything that asks "what time is it?" for a rule (timestamps on rows, business hours,
inactivity, surveys, scheduled messages, the automation tick) reads `now()`, so a test
moves time with `set_now` instead of sleeping, and the whole app moves with it.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current instant, naive UTC."""
    if _override is not None:
        return _override()
    return datetime.now(timezone.utc).replace(tzinfo=None)


def aware_now() -> datetime:
    """`now()` with its UTC zone attached (for zone conversions)."""
    return now().replace(tzinfo=timezone.utc)


class Frozen:
    """A clock standing still at `at` until moved: `frozen.advance(minutes=5)`."""

    def __init__(self, at: datetime):
        self.at = _naive_utc(at)

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = _naive_utc(at)

    def advance(self, **delta) -> datetime:
        self.at += timedelta(**delta)
        return self.at


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def set_now(fn: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); None puts the real one back."""
    global _override
    _override = fn
