"""Who is asking: their time zone (to read the dates they type), from memory or Slack's users.info."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from bot.people import UTC_ZONE, zone_of
from bot.slack_gateway import SlackCallFailed
from handlers.deps import Deps

log = logging.getLogger(__name__)


def asker_zone(deps: Deps, *, workspace_id: str, user_id: str) -> ZoneInfo:
    """Return the user's zone by bot.people.zone_of; ask Slack once and remember it; UTC if Slack cannot say."""
    facts = deps.people.tz_facts(workspace_id, user_id)
    if facts.chosen or facts.known:
        return zone_of(chosen=facts.chosen, known=facts.known)
    try:
        user = deps.slack.user_info(user_id)
    except SlackCallFailed as failure:
        # Reading dates in UTC is a safe default: every echo shows the zone it used.
        log.warning("users.info for %s failed (%s); reading dates in UTC", user_id, failure.code)
        return UTC_ZONE
    name = user.get("tz") or "UTC"
    deps.people.remember(workspace_id=workspace_id, user_id=user_id, tz=name, deleted=bool(user.get("deleted")), now=deps.clock())
    return zone_of(known=name)
