"""Detector tuning and campaign windows repository (`/crisis tuning`, `/crisis campaign`); returns bot dataclasses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update

from bot.campaigns import Campaign
from bot.detector_tuning import ClosedCrisis, DetectorSettings, QuietHours, TopicAdjustment
from storage.session import Database
from storage.tables import CampaignWindowRow, CrisisRow, DetectorSettingRow, TopicRow, TopicSensitivityRow


def _campaign(row: CampaignWindowRow) -> Campaign:
    assert row.id is not None
    return Campaign(id=row.id, team_id=row.team_id, name=row.name, topic=row.topic, starts_at=row.starts_at, ends_at=row.ends_at,
                    created_by=row.created_by, cancelled_at=row.cancelled_at)


def _adjustment(row: TopicSensitivityRow) -> TopicAdjustment:
    return TopicAdjustment(offset=row.log_factor, at=row.adjusted_at, false_alarms=row.false_alarms, missed=row.missed)


class DetectorSettingsStore:
    """Implements bot.detector_tuning.TuningStore and LabelStore, and bot.campaigns.CampaignStore."""

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

    # ----- what labels taught each topic --------------------------------------------------------------

    def topic_adjustments(self, team_id: int) -> list[tuple[int, str, TopicAdjustment]]:
        """Return (topic id, topic name, adjustment) of the team's topics that labels moved, by name."""
        with self._db.session_scope() as session:
            rows = session.execute(select(TopicSensitivityRow, TopicRow.name).join(TopicRow, TopicRow.id == TopicSensitivityRow.topic_id)
                                   .where(TopicSensitivityRow.team_id == team_id).order_by(TopicRow.name)).all()
            return [(row.topic_id, name, _adjustment(row)) for row, name in rows]

    def adjustments_by_topic(self) -> dict[int, TopicAdjustment]:
        """Return every topic's adjustment (one read per detection pass; topics without a row are unchanged)."""
        with self._db.session_scope() as session:
            return {row.topic_id: _adjustment(row) for row in session.execute(select(TopicSensitivityRow)).scalars()}

    def topic_adjustment(self, topic_id: int) -> TopicAdjustment:
        with self._db.session_scope() as session:
            row = session.get(TopicSensitivityRow, topic_id)
            return TopicAdjustment() if row is None else _adjustment(row)

    def save_topic_adjustment(self, *, topic_id: int, team_id: int, adjustment: TopicAdjustment, crisis_id: int, user_id: str,
                              now: datetime) -> bool:
        """Store what crisis `crisis_id` taught the topic, unless that crisis (or a later one) already did."""
        values = {"log_factor": adjustment.offset, "adjusted_at": adjustment.at or now, "false_alarms": adjustment.false_alarms,
                  "missed": adjustment.missed, "last_crisis_id": crisis_id, "updated_by": user_id}
        with self._db.session_scope() as session:
            result = session.execute(update(TopicSensitivityRow).where(TopicSensitivityRow.topic_id == topic_id,
                                                                       TopicSensitivityRow.last_crisis_id < crisis_id).values(**values))
            if result.rowcount == 1:
                return True
            if session.get(TopicSensitivityRow, topic_id) is not None:
                return False  # this crisis (or a later one) already taught the topic
            session.add(TopicSensitivityRow(topic_id=topic_id, team_id=team_id, **values))
        return True

    def reset_topic_adjustment(self, *, topic_id: int, user_id: str, now: datetime) -> bool:
        """Forget what labels taught the topic (the audit keeps the before); False when there was nothing."""
        with self._db.session_scope() as session:
            return session.execute(delete(TopicSensitivityRow).where(TopicSensitivityRow.topic_id == topic_id)).rowcount == 1

    def last_closed_crisis(self, *, team_id: int, topic: str) -> ClosedCrisis | None:
        """Return the team's most recently closed crisis on `topic` (case-insensitive), if any."""
        with self._db.session_scope() as session:
            row = session.execute(select(CrisisRow).where(
                CrisisRow.team_id == team_id, CrisisRow.topic_key == topic.lower(),
                or_(CrisisRow.status == "resolved", CrisisRow.status == "false_alarm"))
                .order_by(CrisisRow.resolved_at.desc(), CrisisRow.id.desc()).limit(1)).scalars().first()
            if row is None or row.id is None:
                return None
            return ClosedCrisis(id=row.id, origin=row.origin, status=row.status, real=row.real, closed_by=row.resolved_by,
                                workspace_id=row.workspace_id)

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
