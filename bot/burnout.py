"""Burnout guard: per-team load limits, the sleep-hour offer and rebalancing proposals.

Pure: takes the schedule, recorded pages and people's zones, returns decisions. Sleep hours are the paged
person's own (bot/page_hours.py). jobs.py and handlers/burnout_actions.py wire this to storage and Slack.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.errors import Conflict, NotAllowed, NotFound, UsageError
from bot.oncall import TeamInfo
from bot.page_hours import HourKind, classify_page_time
from bot.plural import counted
from bot.rotation import Layers, Role, RotationSpec, ScheduleIndex

# --- limits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What a team asks of one person before the bot steps in; the defaults suit a weekly rotation."""

    sleep_pages: int = 2  # sleep-hour pages a primary absorbs in one shift; the next one brings the offer
    consecutive_weeks: int = 2  # shifts in a row as primary
    weekends_per_month: int = 2  # weekends on call as primary in any four weeks


# `/oncall limits` words → (Limits field, lowest, highest). Four weeks hold four weekends at most.
LIMIT_WORDS: dict[str, tuple[str, int, int]] = {
    "sleep-pages": ("sleep_pages", 1, 20),
    "weeks": ("consecutive_weeks", 1, 12),
    "weekends": ("weekends_per_month", 1, 4),
}


class LimitStore(Protocol):
    def limits(self, team_id: int) -> Limits: ...
    def save_limits(self, *, team_id: int, limits: Limits, user_id: str, now: datetime) -> None: ...


def parse_limit_args(args: Sequence[str], *, usage: str) -> tuple[str | None, dict[str, int]]:
    """Split `[team] [sleep-pages=N] [weeks=N] [weekends=N]` into the team name and the changed fields."""
    team: str | None = None
    changes: dict[str, int] = {}
    for word in args:
        key, sep, value = word.partition("=")
        if not sep:
            if team is not None or changes:
                raise UsageError(f"{word!r} is not a limit; write name=number.", usage=usage)
            team = word
            continue
        if key.lower() not in LIMIT_WORDS:
            raise UsageError(f"There is no limit called {key!r}; the limits are {', '.join(LIMIT_WORDS)}.", usage=usage)
        name, low, high = LIMIT_WORDS[key.lower()]
        if not value.isdigit() or not low <= int(value) <= high:
            raise UsageError(f"{key} must be a whole number from {low} to {high}.", usage=usage)
        changes[name] = int(value)
    return team, changes


def change_limits(store: LimitStore, audit: AuditSink, *, team: TeamInfo, actor: str, changes: dict[str, int],
                  now: datetime, via: str) -> tuple[Limits, Limits]:
    """Store new limits for the team (admins only; the caller checks) and audit them; return (before, after)."""
    before = store.limits(team.id)
    after = replace(before, **changes)
    if after != before:
        store.save_limits(team_id=team.id, limits=after, user_id=actor, now=now)
        audit.record(AuditRecord(at=now, actor=actor, action="burnout_limits_changed", via=via, target=f"team:{team.id}",
                                 team_id=team.workspace_id, before=asdict(before), after=asdict(after)))
    return before, after


# --- pages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRecord:
    """One delivered page to a person (from the crisis timeline)."""

    user_id: str
    at: datetime


def count_sleep_pages(pages: Iterable[PageRecord], user_id: str, tz: str, start: datetime, end: datetime) -> int:
    """Return how many of `user_id`'s pages in [start, end] landed in their own sleep hours."""
    return sum(1 for p in pages if p.user_id == user_id and start <= p.at <= end and classify_page_time(p.at, tz) is HourKind.sleep)


# --- the sleep-hour offer -----------------------------------------------------------------------------


class OfferStatus(StrEnum):
    offered = "offered"
    accepted = "accepted"


@dataclass(frozen=True)
class SleepOffer:
    """The offer "backup takes the rest of this shift", made once per primary shift past the sleep-page limit."""

    team: TeamInfo
    primary: str
    backup: str
    shift_start: datetime  # the primary's stretch: the once-per-shift key
    shift_end: datetime
    sleep_pages: int
    limit: int
    id: int | None = None
    status: str = OfferStatus.offered
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    override_id: int | None = None


def sleep_offer_due(spec: RotationSpec, layers: Layers, team: TeamInfo, limits: Limits, pages: Iterable[PageRecord], *,
                    user_id: str, tz: str, now: datetime) -> SleepOffer | None:
    """Return the offer to make when the page to `user_id` at `now` (in their sleep) takes them past the limit this shift."""
    if classify_page_time(now, tz) is not HourKind.sleep:
        return None
    index = ScheduleIndex(spec, layers)
    current = index.next_shifts(user_id, now, 1)
    if not current or current[0].role is not Role.PRIMARY or current[0].start > now:
        return None  # only the primary's shift is guarded; the backup's pages are the exception already
    shift = current[0]
    count = count_sleep_pages(pages, user_id, tz, shift.start, now)
    if count <= limits.sleep_pages:
        return None
    backup = index.who_is_on_call(now).backup
    if backup is None or backup == user_id:
        return None
    return SleepOffer(team=team, primary=user_id, backup=backup, shift_start=shift.start, shift_end=shift.end,
                      sleep_pages=count, limit=limits.sleep_pages)


class OfferStore(Protocol):
    def record_offer(self, offer: SleepOffer, *, now: datetime) -> SleepOffer | None: ...
    def get_offer(self, offer_id: int) -> SleepOffer | None: ...
    def accept_offer(self, *, offer_id: int, user_id: str, start: datetime, now: datetime) -> int | None: ...


def make_offer(store: OfferStore, audit: AuditSink, offer: SleepOffer, *, now: datetime, via: str) -> SleepOffer | None:
    """Record the offer; return it with its id, or None when this shift already had one (restarts, later pages)."""
    stored = store.record_offer(offer, now=now)
    if stored is not None:
        audit.record(AuditRecord(at=now, actor="system", action="burnout_offer_made", via=via, target=f"burnout-offer:{stored.id}",
                                 team_id=offer.team.workspace_id,
                                 after={"team": offer.team.name, "primary": offer.primary, "backup": offer.backup,
                                        "sleep_pages": offer.sleep_pages, "limit": offer.limit, "shift_end": offer.shift_end.isoformat()}))
    return stored


def accept_offer(store: OfferStore, audit: AuditSink, *, offer_id: int, user_id: str, now: datetime, via: str) -> SleepOffer:
    """The backup takes the rest of the primary's shift: an override from now to the shift's end, recorded."""
    offer = store.get_offer(offer_id)
    if offer is None:
        raise NotFound("That offer no longer exists.")
    if user_id != offer.backup:
        # The backup takes the pages from then on, so only they can say yes.
        raise NotAllowed(f"Only <@{offer.backup}>, the backup, can take over the rest of this shift.")
    if offer.status != OfferStatus.offered:
        raise Conflict(f"Already done: <@{offer.accepted_by}> took over.")
    if offer.shift_end <= now:
        raise Conflict("That shift is already over.")
    override_id = store.accept_offer(offer_id=offer_id, user_id=user_id, start=now, now=now)
    if override_id is None:
        raise Conflict("Already done: someone pressed first.")
    audit.record(AuditRecord(at=now, actor=user_id, action="burnout_offer_accepted", via=via, target=f"burnout-offer:{offer_id}",
                             team_id=offer.team.workspace_id, before={"status": OfferStatus.offered, "primary": offer.primary},
                             after={"status": OfferStatus.accepted, "primary": user_id, "override": override_id,
                                    "start": now.isoformat(), "end": offer.shift_end.isoformat()}))
    accepted = store.get_offer(offer_id)
    assert accepted is not None
    return accepted


# --- rebalancing ------------------------------------------------------------------------------------

LOOKBACK = timedelta(weeks=8)
UPCOMING_SHIFTS = 2  # the shift starting at the announced handoff and the one after it
FAIR_FACTOR = 1.5  # "far above the fair share": more than 1.5 times it...
MIN_EXCESS_HOURS = 24.0  # ...and by at least this much (a day's cover is not a pattern)
MIN_EXCESS_PAGES = 3
MONTH = timedelta(days=28)


@dataclass(frozen=True)
class Load:
    """One person's load over the lookback, from the final schedule and the recorded pages."""

    user_id: str
    primary_hours: float
    pages: int


@dataclass(frozen=True)
class Finding:
    user_id: str
    reason: str


@dataclass(frozen=True)
class Move:
    """`to_user` takes `from_user`'s shift [start, end) as primary (an override when applied)."""

    start: datetime
    end: datetime
    from_user: str
    to_user: str


class ProposalStatus(StrEnum):
    proposed = "proposed"
    applied = "applied"


@dataclass(frozen=True)
class RebalanceProposal:
    team: TeamInfo
    handoff: datetime
    findings: tuple[Finding, ...]
    moves: tuple[Move, ...]
    id: int | None = None
    status: str = ProposalStatus.proposed
    applied_by: str | None = None
    applied_at: datetime | None = None


@dataclass
class _Slot:
    start: datetime
    end: datetime
    stretches: list[tuple[datetime, datetime, str | None]] = field(default_factory=list)

    def holder(self) -> str | None:
        hours: Counter[str | None] = Counter()
        for s, e, who in self.stretches:
            hours[who] += (e - s).total_seconds()
        return max(hours, key=lambda who: hours[who]) if hours else None

    def hours_of(self, user_id: str) -> float:
        return sum((e - s).total_seconds() for s, e, who in self.stretches if who == user_id) / 3600


def active_roster(spec: RotationSpec) -> tuple[str, ...]:
    """Return the base roster without paused members (the people fair shares are computed over)."""
    paused = {m.user_id for m in spec.members if m.paused}
    return tuple(u for u in spec.roster if u not in paused)


def _slots(index: ScheduleIndex, start: datetime, end: datetime) -> list[_Slot]:
    starts = index.handoffs(start, end + index.spec.length * 2)
    slots = []
    for a, b in zip(starts, starts[1:]):
        if a >= end:
            break
        slots.append(_Slot(a, b, [(s.start, s.end, s.primary) for s in index.final_schedule(a, b)]))
    return slots


def _weekends(slots: Sequence[_Slot], user_id: str, tz: str, start: datetime, end: datetime) -> int:
    """Return the weekends (Saturday 00:00 to Monday 00:00 in the person's zone, starting in [start, end)) they are primary in."""
    zone = ZoneInfo(tz)
    intervals = [(s, e) for slot in slots for s, e, who in slot.stretches if who == user_id]
    day: date = start.astimezone(zone).date()
    day += timedelta(days=(5 - day.weekday()) % 7)
    count = 0
    while True:
        sat = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        if sat >= end:
            return count
        mon = datetime.combine(day + timedelta(days=2), time(0), tzinfo=zone).astimezone(UTC)
        if sat >= start and any(s < mon and e > sat for s, e in intervals):
            count += 1
        day += timedelta(days=7)


def _streak(slots: Sequence[_Slot], position: int, user_id: str) -> int:
    """Return how many shifts in a row, ending with slot `position`, `user_id` holds as primary."""
    count = 0
    while position >= 0 and slots[position].holder() == user_id:
        count += 1
        position -= 1
    return count


def _last_shift_sleep_pages(slots: Sequence[_Slot], upto: int, user_id: str, pages: Sequence[PageRecord], tz: str) -> int:
    for slot in reversed(slots[:upto]):
        if slot.holder() == user_id:
            return sum(count_sleep_pages(pages, user_id, tz, s, e - timedelta(microseconds=1))
                       for s, e, who in slot.stretches if who == user_id)
    return 0


def loads(slots: Sequence[_Slot], roster: Sequence[str], pages: Sequence[PageRecord], start: datetime, end: datetime) -> dict[str, Load]:
    """Return each roster member's primary hours and pages over [start, end)."""
    out = {}
    for user in roster:
        hours = sum(max(0.0, (min(e, end) - max(s, start)).total_seconds()) for slot in slots for s, e, who in slot.stretches if who == user) / 3600
        out[user] = Load(user, hours, sum(1 for p in pages if p.user_id == user and start <= p.at < end))
    return out


def _shift_word(spec: RotationSpec) -> str:
    return "weeks" if spec.length == timedelta(days=7) else "shifts"


def propose_rebalance(spec: RotationSpec, layers: Layers, team: TeamInfo, limits: Limits, pages: Sequence[PageRecord],
                      zones: dict[str, str], *, handoff: datetime) -> RebalanceProposal | None:
    """Return who should take whose upcoming shift, for primaries over a limit or far above the fair share; None if all is well.

    Looks at the 8 weeks before `handoff` and the shifts starting there. Each overloaded holder's shift goes to the
    least-loaded member who is free for all of it and whom taking it would put over no limit.
    """
    index = ScheduleIndex(spec, layers)
    roster = active_roster(spec)
    if len(roster) < 2 or spec.windows:
        return None  # follow-the-sun shifts are split by region; a whole-slot move would undo the windows
    history_start = handoff - LOOKBACK
    slots = _slots(index, history_start - spec.length * limits.consecutive_weeks, handoff + spec.length * UPCOMING_SHIFTS)
    first_upcoming = next((i for i, s in enumerate(slots) if s.start >= handoff), len(slots))
    measured = loads(slots, roster, pages, history_start, handoff)
    share_hours = sum(l.primary_hours for l in measured.values()) / len(roster)
    share_pages = sum(l.pages for l in measured.values()) / len(roster)
    extra_hours: Counter[str] = Counter()
    word = _shift_word(spec)
    time_off = layers.time_off

    def reasons(user: str, position: int) -> list[str]:
        slot, tz, load = slots[position], zones.get(user, team.tz), measured.get(user)
        found = []
        streak = _streak(slots, position, user)
        if streak > limits.consecutive_weeks:
            found.append(f"would be primary {streak} {word} in a row (limit {limits.consecutive_weeks})")
        weekends = _weekends(slots, user, tz, slot.end - MONTH, slot.end)
        if weekends > limits.weekends_per_month:
            found.append(f"would be on call {weekends} weekends in four weeks (limit {limits.weekends_per_month})")
        sleep = _last_shift_sleep_pages(slots, position, user, pages, tz)
        if sleep > limits.sleep_pages:
            found.append(f"had {counted(sleep, 'sleep-hour page')} last shift (limit {limits.sleep_pages})")
        if load is not None:
            hours = load.primary_hours + extra_hours[user]
            if hours > FAIR_FACTOR * share_hours and hours - share_hours >= MIN_EXCESS_HOURS:
                found.append(f"{hours:.0f} h as primary in 8 weeks (fair share {share_hours:.0f} h)")
            if load.pages > FAIR_FACTOR * share_pages and load.pages - share_pages >= MIN_EXCESS_PAGES:
                found.append(f"{counted(load.pages, 'page')} in 8 weeks (fair share {share_pages:.1f})")
        return found

    def free(user: str, slot: _Slot) -> bool:
        return not any(t.user_id == user and t.start < slot.end and t.end > slot.start for t in time_off)

    findings: list[Finding] = []
    moves: list[Move] = []
    for position in range(first_upcoming, len(slots)):
        slot = slots[position]
        holder = slot.holder()
        if holder is None:
            continue
        why = reasons(holder, position)
        if not why:
            continue
        findings.append(Finding(holder, "; ".join(why)))
        original = list(slot.stretches)
        candidates = sorted((u for u in roster if u != holder and free(u, slot)),
                            key=lambda u: (measured[u].primary_hours + extra_hours[u], measured[u].pages, roster.index(u)))
        hours = (slot.end - slot.start).total_seconds() / 3600
        for candidate in candidates:
            slot.stretches = [(slot.start, slot.end, candidate)]
            extra_hours[candidate] += hours
            # Taking this shift must not put the taker over a limit, here or in a next shift they already hold.
            following = position + 1 < len(slots) and slots[position + 1].holder() == candidate
            if not reasons(candidate, position) and not (following and reasons(candidate, position + 1)):
                moves.append(Move(slot.start, slot.end, holder, candidate))
                break
            extra_hours[candidate] -= hours
            slot.stretches = original
    if not findings:
        return None
    return RebalanceProposal(team=team, handoff=handoff, findings=tuple(findings), moves=tuple(moves))


class ProposalStore(Protocol):
    def get_proposal(self, proposal_id: int) -> RebalanceProposal | None: ...
    def apply_proposal(self, *, proposal_id: int, user_id: str, now: datetime) -> list[int] | None: ...


def apply_rebalance(store: ProposalStore, admins: AdminDirectory, audit: AuditSink, *, proposal_id: int, user_id: str,
                    now: datetime, via: str) -> RebalanceProposal:
    """Turn a proposal's moves into overrides (admins only, once); return the applied proposal."""
    require_admin(admins, user_id, action="apply a rebalancing")
    proposal = store.get_proposal(proposal_id)
    if proposal is None:
        raise NotFound("That proposal no longer exists.")
    if proposal.status != ProposalStatus.proposed:
        raise Conflict(f"Already applied by <@{proposal.applied_by}>.")
    if not any(m.end > now for m in proposal.moves):
        raise Conflict("Those shifts are already over; nothing to apply.")
    override_ids = store.apply_proposal(proposal_id=proposal_id, user_id=user_id, now=now)
    if override_ids is None:
        raise Conflict("Already applied: someone pressed first.")
    moves = [{"from": m.from_user, "to": m.to_user, "start": m.start.isoformat(), "end": m.end.isoformat()} for m in proposal.moves]
    audit.record(AuditRecord(at=now, actor=user_id, action="rebalance_applied", via=via, target=f"rebalance:{proposal_id}",
                             team_id=proposal.team.workspace_id, before={"status": ProposalStatus.proposed, "moves": moves},
                             after={"status": ProposalStatus.applied, "overrides": override_ids}))
    applied = store.get_proposal(proposal_id)
    assert applied is not None
    return applied


class BurnoutStore(LimitStore, OfferStore, ProposalStore, Protocol):
    """Everything the burnout handlers need from storage (storage/burnout.py implements it)."""
