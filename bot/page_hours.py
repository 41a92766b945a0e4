"""When a page lands in the paged person's own day: business, off or sleep hours.

PagerDuty's definition, used by reports and the burnout guard alike: business hours are 08:00–18:00
on weekdays, sleep hours 22:00–08:00 every day, everything else (evenings, weekend days) off hours.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

BUSINESS_START = time(8, 0)
BUSINESS_END = time(18, 0)
SLEEP_START = time(22, 0)
SLEEP_END = time(8, 0)


class HourKind(StrEnum):
    business = "business"
    off = "off"
    sleep = "sleep"


def classify_page_time(at: datetime, tz: str) -> HourKind:
    """Return which part of the person's day the aware instant `at` falls in, in their IANA zone `tz`."""
    if at.tzinfo is None:
        raise ValueError("classify_page_time needs an aware datetime")
    local = at.astimezone(ZoneInfo(tz))
    clock = local.time()
    if clock >= SLEEP_START or clock < SLEEP_END:
        return HourKind.sleep
    if local.weekday() < 5 and BUSINESS_START <= clock < BUSINESS_END:
        return HourKind.business
    return HourKind.off
