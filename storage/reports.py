"""Report repository: the facts a team report and a CSV export need, report settings, and end-of-shift check-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from bot.crisis import PERSON_PAGE_METHODS, EventKind, SpikeStats, counts_as_person_page
from bot.export import AckRow, CrisisRow as CrisisLine, Export, PageRow
from bot.oncall import TeamRotation
from bot.page_hours import classify_page_time
from bot.reports import DEFAULT_DELIVERY, CheckinFact, CoverFact, CrisisFact, ReportDelivery, PageFact, ReportInputs, ReportPeriod
from bot.shift_checkin import Checkin
from bot.spikes import Severity
from storage.audit import AuditLog
from storage.handover import HandoverNotes
from storage.session import Database
from storage.tables import (
    CoverRequest, CrisisEventRow, CrisisRow, MemberSettingRow, Person, ReportSetting, ShiftCheckin, Team, TeamMember,
)


class Reports:
    """Implements bot.reports.ReportSource and ReportSettingsStore, and bot.shift_checkin.CheckinStore."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ----- report inputs -------------------------------------------------------------------------------

    def report_inputs(self, rotation: TeamRotation, period: ReportPeriod) -> ReportInputs:
        """Return the team's crises opened since `period.before`, its pages, cover taken and check-ins in the period, and zones."""
        team, start, end = rotation.team, period.start, period.end
        with self._db.session_scope() as session:
            crises = [_crisis_fact(row) for row in session.exec(select(CrisisRow).where(
                CrisisRow.team_id == team.id, CrisisRow.opened_at >= period.before, CrisisRow.opened_at < end).order_by(CrisisRow.opened_at))]
            # DM pages and by-choice channel mentions of people, each once (see bot.crisis.counts_as_person_page).
            pages = [PageFact(crisis_id=e.crisis_id, at=e.at, user_id=e.target, delivered=e.delivered) for e in session.exec(
                select(CrisisEventRow).join(CrisisRow, col(CrisisRow.id) == col(CrisisEventRow.crisis_id)).where(
                    CrisisRow.team_id == team.id, CrisisEventRow.kind == EventKind.PAGE.value, col(CrisisEventRow.method).in_(PERSON_PAGE_METHODS),
                    CrisisEventRow.at >= start, CrisisEventRow.at < end).order_by(CrisisEventRow.at))
                if counts_as_person_page(e.method, e.target)]
            covers = [CoverFact(requester=r.requester, taken_by=r.taken_by, start=r.start_at, end=r.end_at, taken_at=r.taken_at)
                      for r in session.exec(select(CoverRequest).where(
                          CoverRequest.team_id == team.id, CoverRequest.status == "taken", CoverRequest.taken_at >= start,
                          CoverRequest.taken_at < end)) if r.taken_by and r.taken_at]
            checkins = [CheckinFact(user_id=r.user_id, shift_start=r.shift_start, shift_end=r.shift_end, score=r.score)
                        for r in session.exec(select(ShiftCheckin).where(
                            ShiftCheckin.team_id == team.id, ShiftCheckin.shift_end > start, ShiftCheckin.shift_end <= end))]
            people = {*rotation.spec.roster, *(u for w in rotation.spec.windows for u in w.roster), *(p.user_id for p in pages),
                      *(c.taken_by for c in covers), *(c.user_id for c in checkins)}
            zones = _zones(session, team.workspace_id, people)
        return ReportInputs(rotation=rotation, crises=crises, pages=pages, covers=covers, checkins=checkins, zones=zones,
                            handover_notes=HandoverNotes(self._db).handover_notes(team_id=team.id, start=start, end=end))

    # ----- settings --------------------------------------------------------------------------------------

    def report_delivery(self, team_id: int) -> ReportDelivery:
        with self._db.session_scope() as session:
            row = session.get(ReportSetting, team_id)
            return ReportDelivery(row.delivery) if row else DEFAULT_DELIVERY

    def set_report_delivery(self, *, team_id: int, delivery: ReportDelivery, user_id: str, now: datetime) -> ReportDelivery:
        """Store the team's report destination; return the one before."""
        with self._db.session_scope() as session:
            row = session.get(ReportSetting, team_id)
            before = ReportDelivery(row.delivery) if row else DEFAULT_DELIVERY
            if row is None:
                row = ReportSetting(team_id=team_id, updated_at=now, updated_by=user_id)
                session.add(row)
            row.delivery, row.updated_at, row.updated_by = delivery.value, now, user_id
            return before

    # ----- check-ins ----------------------------------------------------------------------------------------

    def create_checkin(self, *, team_id: int, user_id: str, shift_start: datetime, shift_end: datetime, now: datetime) -> Checkin:
        """Insert the check-in of the team's handoff at `shift_end`, or return the one a previous run inserted."""
        # A run before a restart may have inserted it already (unique per team and handoff): that row serves.
        self._db.insert_once(ShiftCheckin(team_id=team_id, user_id=user_id, shift_start=shift_start, shift_end=shift_end, asked_at=now))
        with self._db.session_scope() as session:
            row = session.exec(select(ShiftCheckin).where(ShiftCheckin.team_id == team_id, ShiftCheckin.shift_end == shift_end)).one()
            return _checkin(session, row)

    def get_checkin(self, checkin_id: int) -> Checkin | None:
        with self._db.session_scope() as session:
            row = session.get(ShiftCheckin, checkin_id)
            return None if row is None else _checkin(session, row)

    def set_checkin_score(self, *, checkin_id: int, score: int, now: datetime) -> Checkin:
        with self._db.session_scope() as session:
            session.exec(update(ShiftCheckin).where(col(ShiftCheckin.id) == checkin_id).values(score=score, answered_at=now))
        checkin = self.get_checkin(checkin_id)
        assert checkin is not None
        return checkin

    # ----- export ----------------------------------------------------------------------------------------------

    def export(self, *, start: datetime, end: datetime, workspace_id: str | None = None, team_id: int | None = None) -> Export:
        """Return crises opened, pages sent and acknowledgements made in [start, end), and the audit records of the range."""
        with self._db.session_scope() as session:
            teams = {t.id: t for t in session.exec(select(Team))}
            names = {i: t.name for i, t in teams.items()}
            workspaces = {i: t.workspace_id for i, t in teams.items()}

            def wanted(query):  # noqa: ANN001, ANN202 - a select over CrisisRow
                if team_id is not None:
                    query = query.where(CrisisRow.team_id == team_id)
                if workspace_id is not None:
                    query = query.where(CrisisRow.workspace_id == workspace_id)
                return query

            crises = [CrisisLine(id=r.id, team=names.get(r.team_id, ""), topic=r.topic, severity=Severity(r.severity).label, status=r.status,
                                 origin=r.origin, summary=r.summary, opened_at=r.opened_at, acked_by=r.acked_by, acked_at=r.acked_at,
                                 resolved_by=r.resolved_by, resolved_at=r.resolved_at, resolution_note=r.resolution_note)
                      for r in session.exec(wanted(select(CrisisRow).where(CrisisRow.opened_at >= start, CrisisRow.opened_at < end))
                                             .order_by(CrisisRow.opened_at, CrisisRow.id))]
            page_rows = list(session.exec(wanted(select(CrisisEventRow, CrisisRow.team_id).join(
                CrisisRow, col(CrisisRow.id) == col(CrisisEventRow.crisis_id)).where(
                CrisisEventRow.kind == EventKind.PAGE.value, CrisisEventRow.at >= start, CrisisEventRow.at < end)).order_by(CrisisEventRow.at, CrisisEventRow.id)))
            people = {e.target for e, _ in page_rows if counts_as_person_page(e.method, e.target)}
            zones = {w: _zones(session, w, people) for w in {workspaces.get(t, "") for _, t in page_rows}}
            pages = []
            for event, team in page_rows:
                # Someone the bot knows no zone for is read in the team's zone, as the rotation does.
                # Only counted person pages get an hour kind: a group mention or a DM's channel fallback has none.
                zone = ((zones[workspaces.get(team, "")].get(event.target or "") or teams[team].tz)
                        if counts_as_person_page(event.method, event.target) else None)
                pages.append(PageRow(crisis_id=event.crisis_id, team=names.get(team, ""), at=event.at, person=event.target, method=event.method,
                                     delivered=event.delivered, hour_kind=classify_page_time(event.at, zone).value if zone else None))
            acks = [AckRow(crisis_id=r.id, team=names.get(r.team_id, ""), opened_at=r.opened_at, acked_by=r.acked_by, acked_at=r.acked_at,
                           acked_via=r.acked_via, seconds_to_ack=int((r.acked_at - r.opened_at).total_seconds()))
                    for r in session.exec(wanted(select(CrisisRow).where(CrisisRow.acked_at >= start, CrisisRow.acked_at < end))
                                           .order_by(CrisisRow.acked_at, CrisisRow.id)) if r.acked_by and r.acked_at]
        allowed = _audit_teams(teams, workspace_id, team_id)
        audit = [r for r in AuditLog(self._db).entries(since=start, until=end)
                 if r.team_id is None or allowed is None or r.team_id in allowed]
        return Export(crises=crises, pages=pages, acknowledgements=acks, audit=audit)

    def find_team_id(self, name: str, workspace_id: str | None = None) -> int | None:
        """Return the id of the team called `name` (in the workspace, when given); None if none or ambiguous."""
        with self._db.session_scope() as session:
            query = select(Team.id).where(Team.name == name)
            if workspace_id:
                query = query.where(Team.workspace_id == workspace_id)
            ids = list(session.exec(query))
            return ids[0] if len(ids) == 1 else None


def _zones(session, workspace_id: str, people: set[str]) -> dict[str, str]:  # noqa: ANN001 - a sqlmodel Session
    """Return each person's zone: their own App Home setting, else Slack's, else their roster entry (else absent)."""
    if not people:
        return {}
    found: dict[str, str] = {}
    for member in session.exec(select(TeamMember).join(Team, col(Team.id) == col(TeamMember.team_id)).where(
            Team.workspace_id == workspace_id, col(TeamMember.user_id).in_(people))):
        if member.tz:
            found.setdefault(member.user_id, member.tz)
    for person in session.exec(select(Person).where(Person.workspace_id == workspace_id, col(Person.user_id).in_(people))):
        if person.tz:
            found[person.user_id] = person.tz
    for setting in session.exec(select(MemberSettingRow).where(MemberSettingRow.workspace_id == workspace_id,
                                                                col(MemberSettingRow.user_id).in_(people))):
        if setting.tz:
            found[setting.user_id] = setting.tz
    return found


def _audit_teams(teams: dict[int | None, Team], workspace_id: str | None, team_id: int | None) -> set[str] | None:
    """Return the audit `team_id` values an export for the workspace (or team) keeps; None when it keeps every entry.

    Entries carry the Slack workspace id (a few older ones the team's numeric id). Entries with none are system-wide
    (outbox give-ups, CLI changes) and stay in every export: they name no workspace's people or records. A team's export
    keeps its workspace's entries, since entries name the workspace, not the team.
    """
    if team_id is not None:
        team = teams.get(team_id)
        return {str(team_id), *([team.workspace_id] if team is not None else [])}
    if workspace_id is not None:
        return {workspace_id, *(str(i) for i, t in teams.items() if t.workspace_id == workspace_id)}
    return None


def _crisis_fact(row: CrisisRow) -> CrisisFact:
    assert row.id is not None
    stats = SpikeStats.from_dict(row.stats)
    return CrisisFact(id=row.id, topic=row.topic, severity=Severity(row.severity).label, status=row.status, opened_at=row.opened_at,
                      acked_by=row.acked_by, acked_at=row.acked_at, resolved_at=row.resolved_at,
                      negative=stats.negative if stats else 0, languages=stats.languages if stats else ())


def _checkin(session, row: ShiftCheckin) -> Checkin:  # noqa: ANN001 - a sqlmodel Session
    assert row.id is not None
    team = session.get(Team, row.team_id)
    return Checkin(id=row.id, team_id=row.team_id, team_name=team.name if team else "", user_id=row.user_id, shift_start=row.shift_start,
                   shift_end=row.shift_end, score=row.score, answered_at=row.answered_at)

