"""On-call rotation: the roster model and the one pure function that turns roster + layers into the final schedule.

Team rules are wall-clock times in IANA zones; every instant in or out is aware, and every instant out is UTC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
import heapq
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

# who_is_on_call and next_shifts look at most this far either side of the asked instant, so a
# one-person roster (whose shift never ends) still gets a finite answer.
HORIZON = timedelta(days=366)
_TICK = timedelta(microseconds=1)


class Role(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"
    SHADOW = "shadow"


class Reason(StrEnum):
    """Why a stretch of the final schedule has the primary it has."""

    ROTATION = "rotation"  # the plain roster order
    REBALANCE = "rebalance"  # someone who was covered earlier pays the shift back
    TIME_OFF = "time_off"  # the scheduled person is away; the next available member covers
    HOLIDAY = "holiday"  # the scheduled person has a public holiday (team opted in)
    HOLIDAY_WORKED = "holiday_worked"  # everyone free has a public holiday: the scheduled person works it (health check says so)
    SWAP = "swap"
    OVERRIDE = "override"
    GAP = "gap"  # nobody is available: the health check reports these
    NOT_STARTED = "not_started"  # before the rotation's epoch


# --- model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandoffRule:
    weekday: int  # 0 = Monday, as datetime.weekday()
    at: time  # wall-clock time in the team's zone
    tz: ZoneInfo


def next_handoff(rule: HandoffRule, after: datetime) -> datetime:
    """Return the first handoff strictly after `after`, as an aware UTC datetime."""
    _require_aware(after, "after")
    local = after.astimezone(rule.tz)
    day = local.date() + timedelta(days=(rule.weekday - local.weekday()) % 7)
    candidate = _wall_to_utc(day, rule.at, rule.tz)
    # Compare in UTC: comparisons within one zone ignore the DST fold.
    if candidate <= after:
        # Step the local date, not the instant, so 09:00 stays 09:00 across DST.
        candidate = _wall_to_utc(day + timedelta(days=7), rule.at, rule.tz)
    return candidate


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str  # IANA name, from Slack's users.info when available
    country: str | None = None  # ISO 3166 code for public holidays, e.g. "IT"
    paused: bool = False  # kept in the roster, skipped by the rotation

    def __post_init__(self) -> None:
        _zone(self.tz)
        if self.country is not None and self.country not in supported_countries():
            raise ValueError(f"no public-holiday calendar for country {self.country!r}")


@dataclass(frozen=True)
class RegionalWindow:
    """A follow-the-sun window: every local day from `start` to `end` in `tz`, covered by `roster`.

    `end <= start` means the window runs over midnight (e.g. 19:00-07:00).
    """

    name: str
    tz: ZoneInfo
    start: time
    end: time
    roster: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "tz", _as_zone(self.tz))
        object.__setattr__(self, "roster", tuple(self.roster))
        if self.start == self.end:
            raise ValueError(f"window {self.name!r} needs different start and end times")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"window {self.name!r} times are wall-clock times; give them without a zone")
        _require_unique(self.roster, f"window {self.name!r} roster")


@dataclass(frozen=True)
class RotationSpec:
    """A team's rotation rules. `epoch` is the first handoff instant; shift k starts k * length after it."""

    tz: ZoneInfo
    roster: tuple[str, ...]
    epoch: datetime
    handoff_weekday: int = 0
    handoff_at: time = time(9, 0)
    length: timedelta = timedelta(days=7)
    shadows: tuple[str, ...] = ()
    windows: tuple[RegionalWindow, ...] = ()
    members: tuple[Member, ...] = ()  # zone/country/paused per user; users not listed use the team zone
    observe_holidays: bool = False

    def __post_init__(self) -> None:
        for name in ("roster", "shadows", "windows", "members"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "tz", _as_zone(self.tz))
        _require_aware(self.epoch, "epoch")
        if self.length < timedelta(days=1) or self.length % timedelta(days=1):
            raise ValueError("a rotation lasts a whole number of days")
        if not 0 <= self.handoff_weekday <= 6:
            raise ValueError("handoff weekday is 0 (Monday) to 6 (Sunday)")
        if self.handoff_at.tzinfo is not None:
            raise ValueError("handoff time is a wall-clock time; give it without a zone")
        _require_unique(self.roster, "roster")
        _require_unique([w.name for w in self.windows], "window names")
        _require_unique([m.user_id for m in self.members], "members")
        local = self.epoch.astimezone(self.tz)
        weekly = self.length % timedelta(days=7) == timedelta(0)
        if _wall_to_utc(local.date(), self.handoff_at, self.tz) != self.epoch or (
            weekly and local.weekday() != self.handoff_weekday
        ):
            raise ValueError(
                f"the epoch {local:%a %Y-%m-%d %H:%M} {self.tz.key} is not a handoff "
                f"(weekday {self.handoff_weekday} at {self.handoff_at:%H:%M})"
            )

    @property
    def handoff_rule(self) -> HandoffRule:
        return HandoffRule(self.handoff_weekday, self.handoff_at, self.tz)


@dataclass(frozen=True)
class TimeOff:
    user_id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "time off")


@dataclass(frozen=True)
class Override:
    """`user_id` takes `role` over [start, end), whoever was scheduled. The last created wins on overlap."""

    user_id: str
    start: datetime
    end: datetime
    created_at: datetime
    role: Role = Role.PRIMARY
    replaces: str | None = None  # who asked to be covered; for display and audit only

    def __post_init__(self) -> None:
        _require_range(self.start, self.end, "override")
        _require_aware(self.created_at, "created_at")
        if self.role is Role.SHADOW:
            raise ValueError("overrides cover the primary or the backup, not the shadow")


@dataclass(frozen=True)
class Swap:
    """`first` gives the shift containing `first_at` to `second` and takes the one containing `second_at`.

    A swap applies only while both shifts still belong to the people named (otherwise it is stale and
    ignored as a whole), so a swap never hands over a shift that time off has already re-flowed.
    """

    first: str
    first_at: datetime
    second: str
    second_at: datetime
    window: str | None = None  # the follow-the-sun window whose shifts are swapped; None = base roster

    def __post_init__(self) -> None:
        _require_aware(self.first_at, "first_at")
        _require_aware(self.second_at, "second_at")


@dataclass(frozen=True)
class Layers:
    time_off: tuple[TimeOff, ...] = ()
    overrides: tuple[Override, ...] = ()
    swaps: tuple[Swap, ...] = ()

    def __post_init__(self) -> None:
        for name in ("time_off", "overrides", "swaps"):
            object.__setattr__(self, name, tuple(getattr(self, name)))


@dataclass(frozen=True)
class Shift:
    """A stretch of the final schedule with the same people; `window` is None for the base roster."""

    start: datetime
    end: datetime
    primary: str | None
    backup: str | None
    shadow: str | None
    reason: Reason
    window: str | None = None
    holiday_workers: tuple[str, ...] = ()  # primary/backup kept on call through their own public holiday


# who_is_on_call answers with the final-schedule shift that contains the instant asked about.
Assignment = Shift


@dataclass(frozen=True)
class UserShift:
    """One person's stretch in one role, for "/oncall me"."""

    start: datetime
    end: datetime
    role: Role
    window: str | None = None


# --- public functions ----------------------------------------------------------------------------


def who_is_on_call(spec: RotationSpec, layers: Layers, at: datetime) -> Assignment:
    """Return who is primary, backup and shadow at `at`, and the stretch (start, end) that holds."""
    return ScheduleIndex(spec, layers).who_is_on_call(at)


def final_schedule(spec: RotationSpec, layers: Layers, start: datetime, end: datetime) -> list[Shift]:
    """Return the contiguous, non-overlapping shifts covering [start, end), clipped to it."""
    return ScheduleIndex(spec, layers).final_schedule(start, end)


def next_shifts(
    spec: RotationSpec, layers: Layers, user_id: str, after: datetime, limit: int = 5
) -> list[UserShift]:
    """Return up to `limit` of `user_id`'s stretches (any role) ending after `after`, within a year."""
    return ScheduleIndex(spec, layers).next_shifts(user_id, after, limit)


# --- the prepared form ---------------------------------------------------------------------------


class ScheduleIndex:
    """(spec, layers) prepared for fast queries: layers sorted once, each query a few bisects.

    Build one per request; it caches the fairness ledger as queries reach further slots, so do not
    share one instance between threads.
    """

    def __init__(self, spec: RotationSpec, layers: Layers) -> None:
        self.spec = spec
        self._epoch = spec.epoch.astimezone(UTC)
        self._epoch_date = spec.epoch.astimezone(spec.tz).date()
        self._days = spec.length.days
        self._slot_starts: dict[int, datetime] = {}
        self._members = {m.user_id: m for m in spec.members}
        by_user: dict[str, list[tuple[datetime, datetime]]] = {}
        for off in layers.time_off:
            by_user.setdefault(off.user_id, []).append((off.start.astimezone(UTC), off.end.astimezone(UTC)))
        self._time_off = {user: _Intervals(pairs) for user, pairs in by_user.items()}
        self._time_off_edges = sorted({edge for ivs in self._time_off.values() for edge in ivs.edges()})
        self._overrides = {
            role: _OverrideIndex([o for o in layers.overrides if o.role is role]) for role in (Role.PRIMARY, Role.BACKUP)
        }
        self._base = _Rotation(None, self._active(spec.roster))
        self._windows = [(w, _Rotation(w.name, self._active(w.roster))) for w in spec.windows]
        self._shadows = self._active(spec.shadows)
        self._observers = [
            m for m in spec.members if spec.observe_holidays and m.country is not None
        ]
        self._holiday_edges: dict[int, list[datetime]] = {}
        self._swapped: dict[tuple[str | None, int], str] = {}
        for swap in layers.swaps:
            self._apply_swap(swap)

    # -- queries --

    def who_is_on_call(self, at: datetime) -> Assignment:
        """Return the final-schedule shift containing `at` (clipped to HORIZON either side)."""
        at = _require_aware(at, "at").astimezone(UTC)
        key = self._evaluate(at)
        start = self._stretch_start(at, lambda k: k == key)
        end = self._next_boundary(at)
        while end < at + HORIZON and self._evaluate(end) == key:
            end = self._next_boundary(end)
        return Shift(start, min(end, at + HORIZON), *key)

    def handoffs(self, start: datetime, end: datetime) -> list[datetime]:
        """Return the handoff instants in [start, end), in UTC (for announcements and reminders)."""
        start, end = _require_range(start, end, "handoff range")
        k = 0 if start < self._epoch else self._slot_index(start) + (self._slot_start(self._slot_index(start)) < start)
        out = []
        while (at := self._slot_start(k)) < end:
            out.append(at)
            k += 1
        return out

    def final_schedule(self, start: datetime, end: datetime) -> list[Shift]:
        """Return the contiguous, non-overlapping, merged shifts covering [start, end)."""
        start, end = _require_range(start, end, "schedule range")
        stretches: list[list] = []
        for seg_start, seg_end, key in self._segments(start, end):
            if stretches and stretches[-1][2] == key:
                stretches[-1][1] = seg_end
            else:
                stretches.append([seg_start, seg_end, key])
        return [Shift(s, e, *key) for s, e, key in stretches]

    def next_shifts(self, user_id: str, after: datetime, limit: int = 5) -> list[UserShift]:
        """Return up to `limit` of `user_id`'s stretches ending after `after`; one in progress keeps its real start."""
        after = _require_aware(after, "after").astimezone(UTC)
        found: list[list] = []
        for seg_start, seg_end, key in self._segments(after, after + HORIZON):
            role = _role_of(user_id, key)
            if role is None:
                if len(found) >= limit:
                    break
                continue
            if found and found[-1][1] == seg_start and found[-1][2] == role and found[-1][3] == key[4]:
                found[-1][1] = seg_end
            elif len(found) >= limit:
                break
            else:
                found.append([seg_start, seg_end, role, key[4]])
        if found and found[0][0] == after:
            role, window = found[0][2], found[0][3]
            found[0][0] = self._stretch_start(after, lambda k: _role_of(user_id, k) == role and k[4] == window)
        return [UserShift(s, e, role, window) for s, e, role, window in found]

    # -- evaluation at one instant; every layer is constant between two boundaries --

    def _evaluate(self, t: datetime) -> tuple[str | None, str | None, str | None, Reason, str | None, tuple[str, ...]]:
        """Return (primary, backup, shadow, reason, window, holiday_workers) at UTC instant `t`."""
        if t < self._epoch:
            return (None, None, None, Reason.NOT_STARTED, None, ())
        k = self._slot_index(t)
        rotation = self._rotation_at(t)
        window = rotation.name
        # The backup layer follows the plain rotation (no override, no swap), so overriding, covering or
        # swapping the primary never makes someone backup who was not asked (as PagerDuty layers do).
        plain_rotation, plain_owner, plain_primary, _ = self._rotation_primary(rotation, k, t, swapped=False)
        forced = self._overrides[Role.PRIMARY].at(t)
        if forced is not None:
            primary, reason, rotation, owner = forced, Reason.OVERRIDE, plain_rotation, plain_owner
        else:
            rotation, owner, primary, reason = self._rotation_primary(rotation, k, t, swapped=True)
        backup = self._overrides[Role.BACKUP].at(t)
        if primary is None:
            # An explicit gap (everyone on time off); a backup override still shows, since its holder agreed to be paged.
            return (None, backup, None, Reason.GAP, window, ())
        if backup is None or backup == primary:
            backup = self._plain_backup(plain_rotation, plain_owner, plain_primary, t)
            if backup is None or backup == primary:
                # The scheduled backup took the primary (override or swap): the next free member after them backs up.
                anchor = backup if backup is not None else (primary if primary in rotation.position else owner)
                walk = plain_rotation if backup is not None else rotation
                backup = self._first_available(walk, anchor, t, skip=(primary,), include_anchor=False)
                if backup is None:
                    # Nobody free but on a public holiday: the next one not on time off backs up through it.
                    backup = self._first_present(walk, anchor, t, skip=(primary,), include_anchor=False)
        # Only a fallback puts someone on call through their own holiday; an override is an explicit decision.
        explicit = (forced, self._overrides[Role.BACKUP].at(t))
        workers = tuple(u for u in (primary, backup) if u is not None and u not in explicit and self._on_holiday(u, t))
        shadow = None
        if self._shadows:
            shadow = _first(
                self._cycle(self._shadows, k % len(self._shadows)),
                lambda m: m not in (primary, backup) and self._available(m, t),
            )
        return (primary, backup, shadow, reason, window, workers)

    def _rotation_primary(
        self, rotation: _Rotation, k: int, t: datetime, *, swapped: bool
    ) -> tuple[_Rotation, str | None, str | None, Reason]:
        """Return (rotation, owner, primary, reason) of slot `k` at `t` without overrides; swaps only if `swapped`."""
        owner, reason = self._owner(rotation, k) if swapped else self._ledger_owner(rotation, k)
        asked = (rotation, owner)
        primary = self._first_available(rotation, owner, t, skip=())
        if primary is None and rotation is not self._base:
            # Nobody in the window's roster is free: the base roster covers rather than leave a gap.
            rotation = self._base
            owner, reason = self._owner(rotation, k) if swapped else self._ledger_owner(rotation, k)
            primary = self._first_available(rotation, owner, t, skip=())
        if primary is None:
            # Everyone free has a public holiday: a 24/7 rotation keeps the scheduled person (the first one
            # not on time off) on call through it rather than leave a hole; the health check flags it.
            for roster, anchor in (asked, (rotation, owner)):
                worker = self._first_present(roster, anchor, t, skip=())
                if worker is not None:
                    return roster, anchor, worker, Reason.HOLIDAY_WORKED
            return rotation, owner, None, reason
        if primary != owner:
            reason = self._absence_reason(owner, t, t + _TICK)
        return rotation, owner, primary, reason

    def _plain_backup(self, rotation: _Rotation, owner: str | None, primary: str | None, t: datetime) -> str | None:
        """Return the backup the plain rotation gives: the first free member after its primary."""
        if primary is None:
            return None
        anchor = primary if primary in rotation.position else owner
        return self._first_available(rotation, anchor, t, skip=(primary,), include_anchor=False)

    def _first_available(
        self, rotation: _Rotation, anchor: str | None, t: datetime, *, skip: Sequence[str | None], include_anchor: bool = True
    ) -> str | None:
        """Return the first member free at `t`, walking the roster cyclically from `anchor`."""
        if anchor is None or not rotation.active:
            return None
        start = rotation.position[anchor] + (0 if include_anchor else 1)
        return _first(self._cycle(rotation.active, start), lambda m: m not in skip and self._available(m, t))

    def _first_present(
        self, rotation: _Rotation, anchor: str | None, t: datetime, *, skip: Sequence[str | None], include_anchor: bool = True
    ) -> str | None:
        """Return the first member not on time off at `t` (public holidays ignored), walking from `anchor`."""
        if anchor is None or not rotation.active:
            return None
        start = rotation.position[anchor] + (0 if include_anchor else 1)
        return _first(self._cycle(rotation.active, start), lambda m: m not in skip and not self._on_time_off(m, t))

    @staticmethod
    def _cycle(people: Sequence[str], start: int) -> Iterator[str]:
        n = len(people)
        return (people[(start + i) % n] for i in range(n))

    def _rotation_at(self, t: datetime) -> _Rotation:
        # The first listed window open at `t` wins where windows overlap; no window open = base roster.
        for window, rotation in self._windows:
            if any(o <= t < c for o, c in self._window_intervals(window, t, (-1, 0))):
                return rotation
        return self._base

    # -- availability --

    def _available(self, user_id: str, t: datetime) -> bool:
        return not self._on_time_off(user_id, t) and not self._on_holiday(user_id, t)

    def _on_time_off(self, user_id: str, t: datetime) -> bool:
        off = self._time_off.get(user_id)
        return off is not None and off.covers(t)

    def _on_holiday(self, user_id: str, t: datetime) -> bool:
        member = self._members.get(user_id)
        if not self.spec.observe_holidays or member is None or member.country is None:
            return False
        # The holiday is the member's own local day, not the team's.
        local = t.astimezone(_zone(member.tz)).date()
        return local in _holiday_dates(member.country, local.year)

    def _away_pieces(self, user_id: str, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        """Return the merged stretches of [a, b) in which `user_id` is on time off or a holiday."""
        pieces = list(self._time_off[user_id].clipped(a, b)) if user_id in self._time_off else []
        member = self._members.get(user_id)
        if self.spec.observe_holidays and member is not None and member.country is not None:
            tz = _zone(member.tz)
            day, last = a.astimezone(tz).date(), b.astimezone(tz).date()
            while day <= last:
                if day in _holiday_dates(member.country, day.year):
                    s, e = _wall_to_utc(day, time(0), tz), _wall_to_utc(day + timedelta(days=1), time(0), tz)
                    if s < b and e > a:
                        pieces.append((max(s, a), min(e, b)))
                day += timedelta(days=1)
        return _merge(pieces)

    def _absence_reason(self, user_id: str | None, a: datetime, b: datetime) -> Reason:
        off = self._time_off.get(user_id) if user_id is not None else None
        return Reason.TIME_OFF if off is not None and off.clipped(a, b) else Reason.HOLIDAY

    # -- slots, the fairness ledger and swaps --

    def _slot_start(self, k: int) -> datetime:
        if k not in self._slot_starts:
            # Step the local date, not the instant: shifts keep their wall-clock handoff across DST.
            day = self._epoch_date + timedelta(days=k * self._days)
            self._slot_starts[k] = _wall_to_utc(day, self.spec.handoff_at, self.spec.tz)
        return self._slot_starts[k]

    def _slot_index(self, t: datetime) -> int:
        k = (t - self._epoch) // self.spec.length
        # DST moves a handoff by at most a few hours, so the estimate is off by one at most.
        while k > 0 and self._slot_start(k) > t:
            k -= 1
        while self._slot_start(k + 1) <= t:
            k += 1
        return k

    def _owner(self, rotation: _Rotation, k: int) -> tuple[str | None, Reason]:
        swapped = self._swapped.get((rotation.name, k))
        if swapped is not None:
            return swapped, Reason.SWAP
        return self._ledger_owner(rotation, k)

    def _ledger_owner(self, rotation: _Rotation, k: int) -> tuple[str | None, Reason]:
        """Return who owns slot `k` by roster order and the fairness ledger, ignoring swaps."""
        while len(rotation.owners) <= k:
            self._ledger_step(rotation)
        return rotation.owners[k]

    def _ledger_step(self, rotation: _Rotation) -> None:
        """Decide who owns the next slot of `rotation`, keeping the owes/owed ledger.

        The rule: the roster order names a nominal owner. If they are away for more than half the
        slot, the first member after them who is free for at least half of it takes the whole slot
        (preferring someone who owes a shift); the absentee then owes one and the cover is owed one.
        When a member who is owed a shift comes up, the first free member who owes one takes it
        instead. Both moves behave like swaps, so nobody else's shifts move. Shorter absences are
        not re-assigned: the next free member covers just those hours, with no ledger entry.
        """
        k = len(rotation.owners)
        people = rotation.active
        if not people:
            rotation.owners.append((None, Reason.GAP))
            return
        a, b = self._slot_start(k), self._slot_start(k + 1)
        free: dict[str, bool] = {}

        def mostly_free(user_id: str) -> bool:
            if user_id not in free:
                away = sum((e - s for s, e in self._away_pieces(user_id, a, b)), timedelta(0))
                free[user_id] = away * 2 <= b - a
            return free[user_id]

        n = len(people)
        nominal = people[k % n]
        others = [people[(k + i) % n] for i in range(1, n)]
        owes = rotation.balance
        if mostly_free(nominal):
            if owes[nominal] > 0:
                debtor = _first(others, lambda m: owes[m] < 0 and mostly_free(m))
                if debtor is not None:
                    owes[debtor] += 1
                    owes[nominal] -= 1
                    rotation.owners.append((debtor, Reason.REBALANCE))
                    return
            rotation.owners.append((nominal, Reason.ROTATION))
            return
        reason = self._absence_reason(nominal, a, b)
        cover = _first(others, lambda m: owes[m] < 0 and mostly_free(m)) or _first(others, mostly_free)
        if cover is None:
            rotation.owners.append((nominal, reason))
            return
        owes[nominal] -= 1
        owes[cover] += 1
        rotation.owners.append((cover, reason))

    def _apply_swap(self, swap: Swap) -> None:
        rotation = self._base
        if swap.window is not None:
            named = [r for w, r in self._windows if w.name == swap.window]
            if not named:
                raise ValueError(f"there is no window called {swap.window!r}")
            rotation = named[0]
        first_at, second_at = swap.first_at.astimezone(UTC), swap.second_at.astimezone(UTC)
        if min(first_at, second_at) < self._epoch:
            return
        ka, kb = self._slot_index(first_at), self._slot_index(second_at)
        if ka == kb or self._owner(rotation, ka)[0] != swap.first or self._owner(rotation, kb)[0] != swap.second:
            return
        self._swapped[(rotation.name, ka)] = swap.second
        self._swapped[(rotation.name, kb)] = swap.first

    def _active(self, roster: Iterable[str]) -> tuple[str, ...]:
        return tuple(u for u in roster if not (u in self._members and self._members[u].paused))

    # -- boundaries: instants at which some layer may change --

    def _segments(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime, tuple]]:
        t = start
        while t < end:
            nxt = min(self._next_boundary(t), end)
            yield t, nxt, self._evaluate(t)
            t = nxt

    def _stretch_start(self, at: datetime, same: Callable[[tuple], bool]) -> datetime:
        """Walk back from `at` over segments for which `same(key)` holds; return where that stops."""
        floor = at - HORIZON
        start = self._prev_boundary(at)
        while start is not None and start > floor:
            before = self._prev_boundary(start - _TICK)
            if before is None or not same(self._evaluate(before)):
                break
            start = before
        return max(start, floor) if start is not None else floor

    def _next_boundary(self, t: datetime) -> datetime:
        """Return the first instant strictly after `t` at which any layer may change."""
        candidates = [self._epoch if t < self._epoch else self._slot_start(self._slot_index(t) + 1)]
        for window, _ in self._windows:
            candidates.extend(edge for pair in self._window_intervals(window, t, (-2, -1, 0, 1)) for edge in pair if edge > t)
        for edges in self._edge_lists(t):
            i = bisect_right(edges, t)
            if i < len(edges):
                candidates.append(edges[i])
        return min(candidates)

    def _prev_boundary(self, t: datetime) -> datetime | None:
        """Return the last instant at or before `t` at which any layer may change, or None."""
        candidates = []
        if t >= self._epoch:
            candidates.append(self._slot_start(self._slot_index(t)))
        for window, _ in self._windows:
            candidates.extend(edge for pair in self._window_intervals(window, t, (-2, -1, 0, 1)) for edge in pair if edge <= t)
        for edges in self._edge_lists(t):
            i = bisect_right(edges, t)
            if i > 0:
                candidates.append(edges[i - 1])
        return max(candidates, default=None)

    def _edge_lists(self, t: datetime) -> list[list[datetime]]:
        lists = [self._overrides[Role.PRIMARY].edges, self._overrides[Role.BACKUP].edges, self._time_off_edges]
        if self._observers:
            lists.extend(self._holiday_edges_for(year) for year in (t.year - 1, t.year, t.year + 1))
        return lists

    def _holiday_edges_for(self, year: int) -> list[datetime]:
        if year not in self._holiday_edges:
            edges = set()
            for member in self._observers:
                tz = _zone(member.tz)
                for day in _holiday_dates(member.country, year):
                    edges.add(_wall_to_utc(day, time(0), tz))
                    edges.add(_wall_to_utc(day + timedelta(days=1), time(0), tz))
            self._holiday_edges[year] = sorted(edges)
        return self._holiday_edges[year]

    @staticmethod
    def _window_intervals(window: RegionalWindow, t: datetime, offsets: Iterable[int]) -> Iterator[tuple[datetime, datetime]]:
        """Yield the window's [open, close) instants for the local days around `t`."""
        today = t.astimezone(window.tz).date()
        overnight = window.end <= window.start
        for offset in offsets:
            day = today + timedelta(days=offset)
            opens = _wall_to_utc(day, window.start, window.tz)
            closes = _wall_to_utc(day + timedelta(days=1 if overnight else 0), window.end, window.tz)
            if opens < closes:  # a DST jump can swallow a very short window
                yield opens, closes


class _Rotation:
    """One roster's cycle (the base roster or one window's) with its fairness ledger."""

    def __init__(self, name: str | None, active: tuple[str, ...]) -> None:
        self.name = name
        self.active = active
        self.position = {u: i for i, u in enumerate(active)}
        self.owners: list[tuple[str | None, Reason]] = []
        self.balance = {u: 0 for u in active}  # > 0: covered extra, is owed; < 0: owes shifts


class _Intervals:
    """Disjoint, sorted [start, end) intervals with bisect lookups."""

    def __init__(self, pairs: Iterable[tuple[datetime, datetime]]) -> None:
        merged = _merge(pairs)
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]

    def covers(self, t: datetime) -> bool:
        i = bisect_right(self.starts, t) - 1
        return i >= 0 and t < self.ends[i]

    def clipped(self, a: datetime, b: datetime) -> list[tuple[datetime, datetime]]:
        i = max(bisect_right(self.starts, a) - 1, 0)
        out = []
        while i < len(self.starts) and self.starts[i] < b:
            if self.ends[i] > a:
                out.append((max(self.starts[i], a), min(self.ends[i], b)))
            i += 1
        return out

    def edges(self) -> Iterator[datetime]:
        yield from self.starts
        yield from self.ends


class _OverrideIndex:
    """Overrides of one role flattened into disjoint segments, each with its winner (last created)."""

    def __init__(self, overrides: Sequence[Override]) -> None:
        ranked = sorted(
            ((o.start.astimezone(UTC), o.end.astimezone(UTC), (o.created_at.astimezone(UTC), i), o.user_id)
             for i, o in enumerate(overrides)),
            key=lambda row: row[0],
        )
        edges = sorted({row[0] for row in ranked} | {row[1] for row in ranked})
        self.starts: list[datetime] = []
        self.ends: list[datetime] = []
        self.winners: list[str] = []
        heap: list[tuple] = []  # max-heap on rank; expired entries are dropped lazily when they surface
        j = 0
        for left, right in zip(edges, edges[1:]):
            while j < len(ranked) and ranked[j][0] <= left:
                start, end, rank, user = ranked[j]
                heapq.heappush(heap, (_Desc(rank), end, user))
                j += 1
            while heap and heap[0][1] <= left:
                heapq.heappop(heap)
            if not heap:
                continue
            if self.ends and self.ends[-1] == left and self.winners[-1] == heap[0][2]:
                self.ends[-1] = right  # a hidden override starting or ending changes nothing
            else:
                self.starts.append(left)
                self.ends.append(right)
                self.winners.append(heap[0][2])
        # Only instants where the winner changes are boundaries, so walks over a deep pile stay short.
        self.edges = sorted(set(self.starts) | set(self.ends))

    def at(self, t: datetime) -> str | None:
        i = bisect_right(self.starts, t) - 1
        return self.winners[i] if i >= 0 and t < self.ends[i] else None


class _Desc:
    """Reverse ordering for heapq, which only offers a min-heap."""

    __slots__ = ("value",)

    def __init__(self, value: tuple) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return self.value > other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value


# --- small pure helpers --------------------------------------------------------------------------


def _wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of wall-clock `day at` in `tz`.

    fold=0 settles DST traps deterministically: a time in the spring-forward gap moves forward by the
    gap (02:30 -> 03:30), and a time that occurs twice at fall-back is the first occurrence.
    """
    return datetime.combine(day, at.replace(fold=0), tzinfo=tz).astimezone(UTC)


def _merge(pairs: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted(pairs):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _first(items: Iterable[str], predicate: Callable[[str], bool]) -> str | None:
    return next((item for item in items if predicate(item)), None)


def _role_of(user_id: str, key: tuple) -> Role | None:
    for role, who in zip((Role.PRIMARY, Role.BACKUP, Role.SHADOW), key[:3]):
        if who == user_id:
            return role
    return None


def _require_aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {dt.isoformat()}")
    return dt


def _require_range(start: datetime, end: datetime, what: str) -> tuple[datetime, datetime]:
    _require_aware(start, f"{what} start")
    _require_aware(end, f"{what} end")
    if end <= start:
        raise ValueError(f"{what} must end after it starts")
    return start.astimezone(UTC), end.astimezone(UTC)


def _require_unique(items: Sequence[str], what: str) -> None:
    if len(set(items)) != len(items):
        raise ValueError(f"{what} lists someone twice")


def _as_zone(tz: ZoneInfo | str) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else _zone(tz)


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {name!r}") from error


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """Return the ISO country codes the `holidays` package has calendars for."""
    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year))


def is_public_holiday(country: str, day: date) -> bool:
    """Return whether `day` is a public holiday in `country` (the calendar the rotation skips people on)."""
    return day in _holiday_dates(country, day.year)
