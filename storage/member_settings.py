"""Member settings repository: one row per (workspace, user), read and written as `bot.home.MemberSettings`."""

from __future__ import annotations

from datetime import datetime, time

from bot.home import MemberSettings, PageVia
from storage.session import Database
from storage.tables import MemberSettingRow


def _clock(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


class MemberSettingsStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def settings_of(self, workspace_id: str, user_id: str) -> MemberSettings | None:
        with self._db.session_scope() as session:
            row = session.get(MemberSettingRow, (workspace_id, user_id))
            if row is None:
                return None
            return MemberSettings(tz=row.tz, quiet_start=_clock(row.quiet_start), quiet_end=_clock(row.quiet_end), page_via=PageVia(row.page_via),
                                  holiday_country=row.holiday_country)

    def save_settings(self, *, workspace_id: str, user_id: str, settings: MemberSettings, now: datetime) -> None:
        with self._db.session_scope() as session:
            row = session.get(MemberSettingRow, (workspace_id, user_id))
            if row is None:
                row = MemberSettingRow(workspace_id=workspace_id, user_id=user_id, updated_at=now)
                session.add(row)
            row.tz = settings.tz
            row.quiet_start = settings.quiet_start.strftime("%H:%M") if settings.quiet_start else None
            row.quiet_end = settings.quiet_end.strftime("%H:%M") if settings.quiet_end else None
            row.page_via = settings.page_via.value
            row.holiday_country = settings.holiday_country
            row.updated_at = now
