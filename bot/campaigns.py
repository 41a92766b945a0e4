"""Campaign windows (`/crisis campaign`): while a launch runs, the detector is more sensitive and the first page
goes to primary and backup together. Pure; times are typed in the team's zone and stored as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.errors import Conflict, NotFound, UsageError
from bot.when import split_range

MAX_LENGTH = timedelta(days=92)  # a "campaign" longer than a quarter is a new normal: change the tuning instead
MAX_NAME = 80
CAMPAIGN_USAGE = ("Usage: `/crisis campaign <name> <from> <to> [topic]` (admins; times in the team's zone, e.g. "
                  "`/crisis campaign summer-launch 2026-06-01 09:00 2026-06-03 18:00 acme`), "
                  "`/crisis campaign list`, `/crisis campaign cancel <id>`")


@dataclass(frozen=True)
class Campaign:
    """A window [starts_at, ends_at) in which `topic` (or every topic of the team, when None) is watched more closely."""

    id: int
    team_id: int
    name: str
    topic: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    cancelled_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        """Return True when the window is running at `at` and was not cancelled before then."""
        if self.cancelled_at is not None and self.cancelled_at <= at:
            return False
        return self.starts_at <= at < self.ends_at

    def covers(self, topic: str, at: datetime) -> bool:
        """Return True when the window is running at `at` and applies to `topic`."""
        return self.active_at(at) and (self.topic is None or self.topic.lower() == topic.lower())


class CampaignStore(Protocol):
    def add_campaign(self, *, team_id: int, name: str, topic: str | None, starts_at: datetime, ends_at: datetime,
                     user_id: str, now: datetime) -> Campaign: ...
    def campaigns(self, *, team_id: int, ending_after: datetime) -> list[Campaign]: ...
    def get_campaign(self, campaign_id: int) -> Campaign | None: ...
    def cancel_campaign(self, *, campaign_id: int, user_id: str, now: datetime) -> Campaign | None: ...


def active_campaign(campaigns: Iterable[Campaign], *, topic: str, at: datetime) -> Campaign | None:
    """Return the window that applies to `topic` at `at` (the one ending last), or None."""
    running = [c for c in campaigns if c.covers(topic, at)]
    return max(running, key=lambda c: c.ends_at) if running else None


def running_campaign(store: CampaignStore, *, team_id: int, topic: str, at: datetime) -> Campaign | None:
    """Return the team's campaign window that applies to `topic` at `at` (the one ending last), or None."""
    return active_campaign(store.campaigns(team_id=team_id, ending_after=at), topic=topic, at=at)


@dataclass(frozen=True)
class CampaignRequest:
    """A parsed `/crisis campaign …`: list, cancel one, or create one."""

    action: str  # "list" | "cancel" | "create"
    campaign_id: int | None = None
    name: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    topic: str | None = None


def parse_campaign(args: Sequence[str], *, tz: ZoneInfo, now: datetime) -> CampaignRequest:
    """Parse the words after `/crisis campaign`, reading times in the team's zone `tz`."""
    if not args or (args[0].lower() == "list" and len(args) == 1):
        return CampaignRequest("list")
    if args[0].lower() == "cancel":
        if len(args) != 2 or not args[1].lstrip("#").isdigit():
            raise UsageError("Say which campaign to cancel by its number (see `/crisis campaign list`).", usage=CAMPAIGN_USAGE)
        return CampaignRequest("cancel", campaign_id=int(args[1].lstrip("#")))
    name = args[0]
    if len(name) > MAX_NAME:
        raise UsageError(f"Campaign names are at most {MAX_NAME} characters.", usage=CAMPAIGN_USAGE)
    if len(args) < 3:
        raise UsageError("A campaign needs a name, a start and an end.", usage=CAMPAIGN_USAGE)
    starts_at, ends_at, rest = split_range(args[1:], tz=tz, now=now)
    if len(rest) > 1:
        raise UsageError(f"I read the window but not {' '.join(rest)!r} after it (one topic name at most).", usage=CAMPAIGN_USAGE)
    if ends_at <= now:
        raise UsageError("That window is already over.", usage=CAMPAIGN_USAGE)
    if ends_at - starts_at > MAX_LENGTH:
        raise UsageError(f"A campaign window lasts at most {MAX_LENGTH.days} days.", usage=CAMPAIGN_USAGE)
    return CampaignRequest("create", name=name, starts_at=starts_at, ends_at=ends_at, topic=rest[0] if rest else None)


def campaign_record(campaign: Campaign) -> dict[str, object]:
    """Return a campaign as plain data for the audit table."""
    return {"id": campaign.id, "name": campaign.name, "topic": campaign.topic, "starts_at": campaign.starts_at.isoformat(),
            "ends_at": campaign.ends_at.isoformat(),
            "cancelled_at": campaign.cancelled_at.isoformat() if campaign.cancelled_at else None}


def create_campaign(store: CampaignStore, audit: AuditSink, admins: AdminDirectory, *, team_id: int, workspace_id: str,
                    request: CampaignRequest, user_id: str, now: datetime, via: str) -> Campaign:
    """Store a new campaign window (admins only) and audit it."""
    require_admin(admins, user_id, action="set campaign windows")
    assert request.starts_at is not None and request.ends_at is not None
    created = store.add_campaign(team_id=team_id, name=request.name, topic=request.topic, starts_at=request.starts_at,
                                 ends_at=request.ends_at, user_id=user_id, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="campaign_created", via=via, target=f"campaign:{created.id}",
                             team_id=workspace_id, after=campaign_record(created)))
    return created


def cancel_campaign(store: CampaignStore, audit: AuditSink, admins: AdminDirectory, *, team_ids: Iterable[int], workspace_id: str,
                    campaign_id: int, user_id: str, now: datetime, via: str) -> Campaign:
    """End a campaign window now (admins only); it must belong to one of this workspace's teams."""
    require_admin(admins, user_id, action="cancel campaign windows")
    found = store.get_campaign(campaign_id)
    if found is None or found.team_id not in set(team_ids):
        raise NotFound(f"There is no campaign #{campaign_id}.")
    if found.cancelled_at is not None or found.ends_at <= now:
        raise Conflict(f"Campaign #{campaign_id} ({found.name}) is already over.")
    cancelled = store.cancel_campaign(campaign_id=campaign_id, user_id=user_id, now=now)
    assert cancelled is not None
    audit.record(AuditRecord(at=now, actor=user_id, action="campaign_cancelled", via=via, target=f"campaign:{campaign_id}",
                             team_id=workspace_id, before=campaign_record(found), after=campaign_record(cancelled)))
    return cancelled
