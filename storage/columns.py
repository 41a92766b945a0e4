"""Column types shared by the tables: timestamps are aware UTC going in and coming out.

SQLite hands back naive datetimes even for DateTime(timezone=True), so UTC is re-attached on read.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def aware_utc(value: datetime) -> datetime:
    """Return `value` in UTC; refuse a naive datetime (its zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r} refused: store aware UTC only")
    return value.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A DateTime that refuses naive values and always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else aware_utc(value)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
