"""A person's time zone: the one precedence every part of the bot reads their zone by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class ZoneFacts:
    """What the bot has stored about one person's zone (storage/people.py reads both in one go)."""

    chosen: str | None = None  # picked on their App Home: their own word wins
    known: str | None = None  # what Slack's users.info reported, remembered


def zone_of(*, chosen: str | None = None, known: str | None = None, roster: str | None = None,
            team: str | None = None) -> ZoneInfo:
    """Return the person's zone: their Home choice, else Slack's, else the roster's, else the team's, else UTC.

    A name zoneinfo does not know is skipped rather than trusted (a typo in a roster must not break paging).
    """
    for name in (chosen, known, roster, team):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC_ZONE


def roster_zone(members: Iterable[Any], user_id: str) -> str | None:
    """Return the zone the rotation's roster gives `user_id` (a member with `user_id` and `tz`), if any."""
    return next((m.tz for m in members if m.user_id == user_id), None)
