"""Campaign windows (bot/campaigns.py): parsing in the team's zone, which window applies, admin rule and audit."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.campaigns import Campaign, active_campaign, cancel_campaign, create_campaign, parse_campaign
from bot.errors import Conflict, NotAllowed, NotFound, UsageError
from tests.bot.test_detector_tuning import Admins, Audit

ROME = ZoneInfo("Europe/Rome")
NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)


def window(id=1, topic=None, start=NOW, hours=48, cancelled_at=None):
    return Campaign(id=id, team_id=1, name="launch", topic=topic, starts_at=start, ends_at=start + timedelta(hours=hours),
                    created_by="UA", cancelled_at=cancelled_at)


def test_times_are_read_in_the_team_zone_and_stored_as_utc():
    """`2026-03-24 09:00` in Rome (CET, +1) is 08:00 UTC; the trailing word is the topic."""
    request = parse_campaign(("launch", "2026-03-24", "09:00", "2026-03-26", "18:00", "acme"), tz=ROME, now=NOW)
    assert (request.action, request.name, request.topic) == ("create", "launch", "acme")
    assert request.starts_at == datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    assert request.ends_at == datetime(2026, 3, 26, 17, 0, tzinfo=UTC)


def test_a_window_across_the_spring_forward_keeps_local_wall_clock_times():
    """Start before and end after Rome's DST change: 09:00 CET is 08:00 UTC, 09:00 CEST is 07:00 UTC."""
    request = parse_campaign(("launch", "2026-03-28", "09:00", "2026-03-30", "09:00"), tz=ROME, now=NOW)
    assert request.topic is None
    assert (request.starts_at.hour, request.ends_at.hour) == (8, 7)


def test_a_window_across_the_fall_back_keeps_local_wall_clock_times():
    """Across October's change: 09:00 CEST is 07:00 UTC, 09:00 CET is 08:00 UTC."""
    now = datetime(2026, 10, 20, tzinfo=UTC)
    request = parse_campaign(("launch", "2026-10-24", "09:00", "2026-10-26", "09:00"), tz=ROME, now=now)
    assert (request.starts_at.hour, request.ends_at.hour) == (7, 8)


def test_list_and_cancel_parse():
    """`list` (or nothing) lists; `cancel 3` cancels campaign 3."""
    assert parse_campaign((), tz=ROME, now=NOW).action == "list"
    assert parse_campaign(("list",), tz=ROME, now=NOW).action == "list"
    cancel = parse_campaign(("cancel", "3"), tz=ROME, now=NOW)
    assert (cancel.action, cancel.campaign_id) == ("cancel", 3)


@pytest.mark.parametrize("args", [("cancel",), ("cancel", "x"), ("launch", "tomorrow"), ("launch", "2026-01-01", "2026-01-02"),
                                  ("launch", "2026-03-24", "2026-09-30"), ("launch", "2026-03-24", "2026-03-25", "acme", "extra")])
def test_bad_campaign_arguments_are_usage_errors(args):
    """No id, no end, a window already over, one longer than a quarter, or two trailing words: usage text."""
    with pytest.raises(UsageError):
        parse_campaign(args, tz=ROME, now=NOW)


def test_the_window_applies_to_its_topic_only_while_it_runs():
    """A topic window covers that topic (any case) between its start and end; a team-wide one covers every topic."""
    acme, everything = window(1, topic="acme"), window(2, start=NOW + timedelta(days=1))
    assert active_campaign([acme, everything], topic="ACME", at=NOW) == acme
    assert active_campaign([acme, everything], topic="other", at=NOW) is None
    assert active_campaign([acme, everything], topic="other", at=NOW + timedelta(days=1, hours=1)) == everything
    assert active_campaign([acme], topic="acme", at=NOW + timedelta(hours=48)) is None  # the end is exclusive


def test_a_cancelled_window_stops_applying_from_its_cancellation():
    """Cancelling ends the window early; before the cancellation it still applied."""
    cancelled = window(cancelled_at=NOW + timedelta(hours=1))
    assert cancelled.covers("acme", NOW) and not cancelled.covers("acme", NOW + timedelta(hours=2))


class Store:
    def __init__(self) -> None:
        self.rows: dict[int, Campaign] = {}

    def add_campaign(self, *, team_id, name, topic, starts_at, ends_at, user_id, now):
        made = Campaign(id=len(self.rows) + 1, team_id=team_id, name=name, topic=topic, starts_at=starts_at, ends_at=ends_at, created_by=user_id)
        self.rows[made.id] = made
        return made

    def campaigns(self, *, team_id, ending_after):
        return [c for c in self.rows.values() if c.team_id == team_id and c.ends_at > ending_after and c.cancelled_at is None]

    def get_campaign(self, campaign_id):
        return self.rows.get(campaign_id)

    def cancel_campaign(self, *, campaign_id, user_id, now):
        from dataclasses import replace

        self.rows[campaign_id] = replace(self.rows[campaign_id], cancelled_at=now)
        return self.rows[campaign_id]


def test_admins_create_and_cancel_with_audit_records():
    """Creating and cancelling are audited; the cancel record keeps before and after."""
    store, audit = Store(), Audit()
    request = parse_campaign(("launch", "2026-03-24", "09:00", "2026-03-26", "18:00"), tz=ROME, now=NOW)
    made = create_campaign(store, audit, Admins("UA"), team_id=1, workspace_id="T1", request=request, user_id="UA", now=NOW, via="slash_command")
    cancel_campaign(store, audit, Admins("UA"), team_ids=[1], workspace_id="T1", campaign_id=made.id, user_id="UA", now=NOW, via="slash_command")
    assert [r.action for r in audit.records] == ["campaign_created", "campaign_cancelled"]
    assert audit.records[1].before["cancelled_at"] is None and audit.records[1].after["cancelled_at"] == NOW.isoformat()
    with pytest.raises(Conflict):
        cancel_campaign(store, audit, Admins("UA"), team_ids=[1], workspace_id="T1", campaign_id=made.id, user_id="UA", now=NOW,
                        via="slash_command")


def test_non_admins_cannot_create_or_cancel_and_other_workspaces_campaigns_are_not_found():
    """A member is refused; an id of another workspace's team is reported as not found."""
    store, audit = Store(), Audit()
    request = parse_campaign(("launch", "2026-03-24", "2026-03-26"), tz=ROME, now=NOW)
    with pytest.raises(NotAllowed):
        create_campaign(store, audit, Admins("UA"), team_id=1, workspace_id="T1", request=request, user_id="UM", now=NOW, via="slash_command")
    made = create_campaign(store, audit, Admins("UA"), team_id=1, workspace_id="T1", request=request, user_id="UA", now=NOW, via="slash_command")
    with pytest.raises(NotFound):
        cancel_campaign(store, audit, Admins("UA"), team_ids=[2], workspace_id="T2", campaign_id=made.id, user_id="UA", now=NOW,
                        via="slash_command")
