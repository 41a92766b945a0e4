"""Detector tuning and campaign windows repository (`/crisis tuning`, `/crisis campaign`); returns bot dataclasses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from bot.campaigns import Campaign
from bot.detector_tuning import DetectorSettings, QuietHours
from storage.session import Database
from storage.tables import CampaignWindowRow, DetectorSettingRow


def _campaign(row: CampaignWindowRow) -> Campaign:
    assert row.id is not None
    return Campaign(id=row.id, team_id=row.team_id, name=row.name, topic=row.topic, starts_at=row.starts_at, ends_at=row.ends_at,
                    created_by=row.created_by, cancelled_at=row.cancelled_at)


class DetectorSettingsStore:
    """Implements bot.detector_tuning.TuningStore and bot.campaigns.CampaignStore."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ----- tuning ----------------------------------------------------------------------------------

    def detector_settings(self, team_id: int) -> DetectorSettings:
        """Return the team's settings, or the shipped defaults when it never changed them."""
        with self._db.session_scope() as session:
            row = session.get(DetectorSettingRow, team_id)
            if row is None:
                return DetectorSettings()
            return DetectorSettings(sensitivity=row.sensitivity, min_count=row.min_count, quiet_hours=QuietHours(row.quiet_hours))

    def save_detector_settings(self, *, team_id: int, settings: DetectorSettings, user_id: str, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get(DetectorSettingRow, team_id)
            if row is None:
                row = DetectorSettingRow(team_id=team_id, updated_at=now, updated_by=user_id)
                session.add(row)
            row.sensitivity = settings.sensitivity
            row.min_count = settings.min_count
            row.quiet_hours = settings.quiet_hours.value
            row.updated_at, row.updated_by = now, user_id

    # ----- campaign windows ------------------------------------------------------------------------

    def add_campaign(self, *, team_id: int, name: str, topic: str | None, starts_at: datetime, ends_at: datetime,
                     user_id: str, now: datetime) -> Campaign:
        with self._db.session_scope() as session:
            row = CampaignWindowRow(team_id=team_id, name=name, topic=topic, starts_at=starts_at, ends_at=ends_at, created_by=user_id,
                                    created_at=now)
            session.add(row)
            session.flush()
            return _campaign(row)

    def campaigns(self, *, team_id: int, ending_after: datetime) -> list[Campaign]:
        """Return the team's campaigns not cancelled and ending after `ending_after`, soonest first."""
        with self._db.session_scope() as session:
            rows = session.execute(select(CampaignWindowRow).where(
                CampaignWindowRow.team_id == team_id, CampaignWindowRow.ends_at > ending_after, CampaignWindowRow.cancelled_at.is_(None))
                .order_by(CampaignWindowRow.starts_at, CampaignWindowRow.id)).scalars().all()
            return [_campaign(row) for row in rows]

    def get_campaign(self, campaign_id: int) -> Campaign | None:
        with self._db.session_scope() as session:
            row = session.get(CampaignWindowRow, campaign_id)
            return None if row is None else _campaign(row)

    def cancel_campaign(self, *, campaign_id: int, user_id: str, now: datetime) -> Campaign | None:
        """Cancel a running or future campaign once (a conditional UPDATE); None when it was already cancelled."""
        with self._db.session_scope() as session:
            result = session.execute(update(CampaignWindowRow).where(CampaignWindowRow.id == campaign_id,
                                                                     CampaignWindowRow.cancelled_at.is_(None))
                                     .values(cancelled_at=now, cancelled_by=user_id))
            if result.rowcount != 1:
                return None
        return self.get_campaign(campaign_id)
