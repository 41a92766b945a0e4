"""The team report: crises, response times, who carried the load and how heavy it felt, for a period of whole weeks.

Pure: takes the facts storage/reports.py gathers, returns a `TeamReport`. Periods are whole weeks of the team's
wall clock, so a week with a DST change is 167 or 169 hours; pages are classified in the paged person's own zone.
Median is the usual middle value; the 90th percentile is the nearest-rank one (a value that really occurred).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.errors import UsageError
from bot.oncall import RotationStore, TeamInfo, TeamRotation, pick_team
from bot.page_hours import HourKind, classify_page_time
from bot.rotation import Reason, RotationSpec, ScheduleIndex, Shift, is_public_holiday
from bot.rotation_messages import merged_gaps
from bot.export import Export
from bot.handover import HandoverNote
from bot.shift_checkin import CheckinStore
from bot.when import local_to_utc

MAX_REPORT_WEEKS = 12
HOUR = timedelta(hours=1)


class ReportDelivery(StrEnum):
    """Where the weekly report goes after the handoff (admins choose with `/oncall report settings`)."""

    channel = "channel"  # the team's announcements channel (the admins' DMs when it has none)
    admins = "admins"
    off = "off"


DEFAULT_DELIVERY = ReportDelivery.channel
SETTINGS_USAGE = "Usage: `/oncall report settings channel|admins|off [team]`"


# --- facts in ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrisisFact:
    id: int
    topic: str
    severity: str  # "SEV1".."SEV3"
    status: str  # open, acknowledged, resolved, false_alarm
    opened_at: datetime
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_at: datetime | None = None
    negative: int = 0  # negative mentions in the card's window
    languages: tuple[tuple[str, float], ...] = ()  # the card's language mix of those negatives, largest first

    @property
    def false_alarm(self) -> bool:
        return self.status == "false_alarm"


@dataclass(frozen=True)
class PageFact:
    """One page sent to a person by DM (the channel fallback of a failed DM is the same page, not counted twice)."""

    crisis_id: int
    at: datetime
    user_id: str
    delivered: bool | None = None


@dataclass(frozen=True)
class CoverFact:
    requester: str
    taken_by: str
    start: datetime
    end: datetime
    taken_at: datetime


@dataclass(frozen=True)
class CheckinFact:
    user_id: str
    shift_start: datetime
    shift_end: datetime
    score: int | None


@dataclass(frozen=True)
class ReportInputs:
    """Everything one team's report needs, for the period and the one before it."""

    rotation: TeamRotation
    crises: Sequence[CrisisFact] = ()
    pages: Sequence[PageFact] = ()
    covers: Sequence[CoverFact] = ()
    checkins: Sequence[CheckinFact] = ()
    zones: dict[str, str] = field(default_factory=dict)  # user -> IANA zone; others use their roster zone, then the team's
    handover_notes: Sequence[HandoverNote] = ()


class ReportSource(Protocol):
    def report_inputs(self, rotation: TeamRotation, period: ReportPeriod) -> ReportInputs: ...


# --- figures out -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    count: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class PersonLoad:
    user_id: str
    tz: str
    pages: dict[HourKind, int]
    primary_hours: float
    backup_hours: float
    weekend_days: int  # local weekend days (their zone) with any time as primary
    holidays: int  # local public holidays (their country) with any time as primary
    covers_taken: int
    checkin_average: float | None
    checkins: int

    @property
    def page_total(self) -> int:
        return sum(self.pages.values())


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class TeamReport:
    team: TeamInfo
    start: datetime
    end: datetime
    weeks: int
    crises: int
    by_severity: dict[str, int]
    by_topic: dict[str, int]
    false_alarms: int
    time_to_ack: Durations
    time_to_ack_before: Durations
    time_to_resolve: Durations
    time_to_resolve_before: Durations
    people: list[PersonLoad]
    gaps: list[Gap]
    covers: list[CoverFact]
    crises_per_day: list[tuple[date, int]]  # team-local days of the period
    ack_minutes: list[float]  # every time to acknowledge in the period, for the distribution chart
    handover_notes: list[HandoverNote] = field(default_factory=list)  # the period's handoffs, oldest first
    negative_languages: tuple[tuple[str, float], ...] = ()  # language mix of the crises' negative mentions

    @property
    def false_alarm_share(self) -> float | None:
        return self.false_alarms / self.crises if self.crises else None

    @property
    def gap_total(self) -> timedelta:
        return sum((g.end - g.start for g in self.gaps), timedelta(0))


# --- periods -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPeriod:
    """[start, end) and the period of as many weeks just before it, [before, start); all UTC."""

    before: datetime
    start: datetime
    end: datetime
    weeks: int


def report_period(end: datetime, *, tz: str, weeks: int) -> ReportPeriod:
    """Return the `weeks` whole weeks of the zone's wall clock ending at `end`, and as many weeks before them."""
    if end.tzinfo is None:
        raise ValueError("report_period needs an aware end")
    if not 1 <= weeks <= MAX_REPORT_WEEKS:
        raise UsageError(f"Weeks must be between 1 and {MAX_REPORT_WEEKS}.", usage="Usage: `/oncall report [team] [weeks]`")
    start = _weeks_before(end, tz, weeks)
    return ReportPeriod(before=_weeks_before(start, tz, weeks), start=start, end=end.astimezone(UTC), weeks=weeks)


def _weeks_before(at: datetime, tz: str, weeks: int) -> datetime:
    zone = ZoneInfo(tz)
    local = at.astimezone(zone).replace(tzinfo=None)
    # Wall-clock subtraction keeps 09:00 at 09:00 across a DST change (the week is then 167 or 169 hours).
    return local_to_utc(local - timedelta(weeks=weeks), zone)


def durations(values: Iterable[timedelta]) -> Durations:
    """Return the count, median and nearest-rank 90th percentile of `values`."""
    ordered = sorted(values)
    if not ordered:
        return Durations(0, None, None)
    median = statistics.median(ordered)
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return Durations(len(ordered), median, p90)


# --- the report ---------------------------------------------------------------------------------------


def build_report(inputs: ReportInputs, period: ReportPeriod) -> TeamReport:
    """Compute the team's report for the period, with response times of the period before beside it."""
    rotation = inputs.rotation
    team, spec = rotation.team, rotation.spec
    before_start, start, end, weeks = period.before, period.start, period.end, period.weeks
    current = [c for c in inputs.crises if start <= c.opened_at < end]
    previous = [c for c in inputs.crises if before_start <= c.opened_at < start]
    paged = [p for p in inputs.pages if start <= p.at < end]
    covers = sorted((c for c in inputs.covers if start <= c.taken_at < end), key=lambda c: c.taken_at)
    checkins = [c for c in inputs.checkins if start < c.shift_end <= end]
    shifts = ScheduleIndex(spec, rotation.layers).final_schedule(start, end)
    members = {m.user_id: m for m in spec.members}
    zones = {u: inputs.zones.get(u) or (members[u].tz if u in members else team.tz)
             for u in _people(spec, shifts, paged, covers, checkins)}

    pages: dict[str, Counter[HourKind]] = {u: Counter() for u in zones}
    for page in paged:
        pages[page.user_id][classify_page_time(page.at, zones[page.user_id])] += 1

    primary: Counter[str] = Counter()
    backup: Counter[str] = Counter()
    primary_days: dict[str, set[date]] = {u: set() for u in zones}
    for shift in shifts:
        length = shift.end - shift.start
        if shift.primary:
            primary[shift.primary] += length / HOUR
            primary_days[shift.primary] |= _local_days(shift.start, shift.end, zones[shift.primary])
        if shift.backup:
            backup[shift.backup] += length / HOUR
    gaps = [Gap(h.start, h.end) for h in merged_gaps([s for s in shifts if s.primary is None and s.reason is not Reason.NOT_STARTED])]

    taken = Counter(c.taken_by for c in covers)
    scores: dict[str, list[int]] = {}
    for checkin in checkins:
        if checkin.score is not None:
            scores.setdefault(checkin.user_id, []).append(checkin.score)
    acks = _acks(current)

    people = []
    for user, tz in zones.items():
        country = members[user].country if user in members else None
        days = primary_days[user]
        answered = scores.get(user, [])
        people.append(PersonLoad(
            user_id=user, tz=tz, pages={kind: pages[user][kind] for kind in HourKind},
            primary_hours=round(primary[user], 2), backup_hours=round(backup[user], 2),
            weekend_days=sum(1 for d in days if d.weekday() >= 5),
            holidays=sum(1 for d in days if country and is_public_holiday(country, d)),
            covers_taken=taken[user], checkin_average=round(statistics.fmean(answered), 2) if answered else None, checkins=len(answered),
        ))
    people.sort(key=lambda p: (-p.page_total, -p.primary_hours, p.user_id))

    return TeamReport(
        team=team, start=start, end=end, weeks=weeks, crises=len(current),
        by_severity=dict(sorted(Counter(c.severity for c in current).items())),
        by_topic=dict(Counter(c.topic for c in current).most_common()),
        false_alarms=sum(c.false_alarm for c in current),
        time_to_ack=durations(acks), time_to_ack_before=durations(_acks(previous)),
        time_to_resolve=durations(_resolutions(current)), time_to_resolve_before=durations(_resolutions(previous)),
        people=people, gaps=gaps, covers=covers,
        crises_per_day=_per_day(current, start, end, team.tz),
        ack_minutes=sorted(d / timedelta(minutes=1) for d in acks),
        handover_notes=sorted((n for n in inputs.handover_notes if start < n.handoff <= end and n.text), key=lambda n: n.handoff),
        negative_languages=negative_language_mix(current),
    )


def negative_language_mix(crises: Iterable[CrisisFact], *, limit: int = 3) -> tuple[tuple[str, float], ...]:
    """The language mix of the negative mentions over several crises: each card's shares weighted by its negative
    count (a 400-negative crisis in Italian outweighs a 20-negative one in English), largest first."""
    weights: Counter[str] = Counter()
    total = 0
    for crisis in crises:
        if crisis.negative <= 0 or not crisis.languages:
            continue
        total += crisis.negative
        for code, share in crisis.languages:
            weights[code] += share * crisis.negative
    if not total:
        return ()
    ranked = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return tuple((code, weight / total) for code, weight in ranked)


def _people(spec: RotationSpec, shifts: Sequence[Shift], pages: Sequence[PageFact], covers: Sequence[CoverFact],
            checkins: Sequence[CheckinFact]) -> list[str]:
    """Return the roster, then anyone else who held a role, was paged, took cover or was asked a check-in (all in the period)."""
    found = [*spec.roster, *(u for w in spec.windows for u in w.roster)]
    for shift in shifts:
        found.extend(u for u in (shift.primary, shift.backup) if u)
    found.extend(p.user_id for p in pages)
    found.extend(c.taken_by for c in covers)
    found.extend(c.user_id for c in checkins)
    return list(dict.fromkeys(found))


def _acks(crises: Iterable[CrisisFact]) -> list[timedelta]:
    return [c.acked_at - c.opened_at for c in crises if c.acked_at is not None]


def _resolutions(crises: Iterable[CrisisFact]) -> list[timedelta]:
    # False alarms are dismissed, not resolved: counting them would flatter the time to resolve.
    return [c.resolved_at - c.opened_at for c in crises if c.resolved_at is not None and c.status == "resolved"]


def _local_days(start: datetime, end: datetime, tz: str) -> set[date]:
    """Return the local dates in `tz` that [start, end) touches for a positive time."""
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def _per_day(crises: Sequence[CrisisFact], start: datetime, end: datetime, tz: str) -> list[tuple[date, int]]:
    zone = ZoneInfo(tz)
    counts = Counter(c.opened_at.astimezone(zone).date() for c in crises)
    return [(day, counts[day]) for day in sorted(_local_days(start, end, tz))]


# --- settings --------------------------------------------------------------------------------------------


class ReportSettingsStore(Protocol):
    def report_delivery(self, team_id: int) -> ReportDelivery: ...
    def set_report_delivery(self, *, team_id: int, delivery: ReportDelivery, user_id: str, now: datetime) -> ReportDelivery: ...


def parse_delivery(word: str) -> ReportDelivery:
    """Return the delivery a word names; UsageError lists the choices."""
    try:
        return ReportDelivery(word.lower())
    except ValueError:
        raise UsageError(f"{word!r} is not a report destination.", usage=SETTINGS_USAGE) from None


def change_delivery(store: ReportSettingsStore, audit: AuditSink, admins: AdminDirectory, *, team: TeamInfo, delivery: ReportDelivery,
                    user_id: str, now: datetime, via: str) -> ReportDelivery:
    """Set where the team's weekly report goes (admins only); audited with before and after."""
    require_admin(admins, user_id, action="change where the weekly report goes")
    before = store.set_report_delivery(team_id=team.id, delivery=delivery, user_id=user_id, now=now)
    audit.record(AuditRecord(at=now, actor=user_id, action="report_delivery_changed", via=via, target=f"team:{team.id}",
                             team_id=str(team.id), before={"delivery": before.value}, after={"delivery": delivery.value}))
    return delivery


def weekly_report_due(index: ScheduleIndex, handoff: datetime) -> bool:
    """Return whether the weekly report goes out at this handoff: on the rule's weekday (every handoff of a weekly rotation)."""
    spec = index.spec
    if spec.length % timedelta(days=7) == timedelta(0):
        return True
    return handoff.astimezone(spec.tz).weekday() == spec.handoff_weekday


def weekly_report_weeks(index: ScheduleIndex) -> int:
    """Return how many weeks a weekly report covers: one, or the whole shift of a longer rotation."""
    return max(1, min(MAX_REPORT_WEEKS, index.spec.length.days // 7))


def team_report(rotations: RotationStore, source: ReportSource, *, workspace_id: str, team: str | None, weeks: int, now: datetime) -> TeamReport:
    """Return the report of the named (or only) team for the `weeks` weeks up to `now`."""
    rotation = pick_team(rotations, workspace_id, team)
    period = report_period(now, tz=rotation.team.tz, weeks=weeks)
    return build_report(source.report_inputs(rotation, period), period)


class ReportRepository(ReportSource, ReportSettingsStore, CheckinStore, Protocol):
    """Everything reports, exports and check-ins need from storage (storage/reports.py implements it)."""

    def export(self, *, start: datetime, end: datetime, workspace_id: str | None = None, team_id: int | None = None) -> Export: ...
