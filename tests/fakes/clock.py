"""The one test clock: a callable that returns `now`, which the test moves by assigning to it."""

from __future__ import annotations

from typing import Generic, TypeVar

Instant = TypeVar("Instant")  # an aware datetime for the app's clock, a float for a monotonic TTL clock


class Clock(Generic[Instant]):
    def __init__(self, now: Instant) -> None:
        self.now = now

    def __call__(self) -> Instant:
        return self.now
