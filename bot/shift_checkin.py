"""End-of-shift check-in: at each handoff the outgoing primary is asked "How heavy was this shift?" (1-5).

One check-in per team handoff (the store's unique key); the answer can be changed by pressing again, and every
answer is audited. The scores feed the team report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.audit import AuditRecord, AuditSink
from bot.errors import NotAllowed, NotFound, UsageError
from bot.rotation import ScheduleIndex

SCORES = range(1, 6)
SCORE_WORDS = {1: "light", 2: "fine", 3: "busy", 4: "heavy", 5: "exhausting"}
# A check-in asked this long after its handoff (a long outage) would be about a shift nobody remembers well.
CHECKIN_LATE_LIMIT = timedelta(hours=24)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Checkin:
    id: int
    team_id: int
    team_name: str
    user_id: str
    shift_start: datetime
    shift_end: datetime
    score: int | None = None
    answered_at: datetime | None = None


class CheckinStore(Protocol):
    def create_checkin(self, *, team_id: int, user_id: str, shift_start: datetime, shift_end: datetime, now: datetime) -> Checkin: ...
    def get_checkin(self, checkin_id: int) -> Checkin | None: ...
    def set_checkin_score(self, *, checkin_id: int, score: int, now: datetime) -> Checkin: ...


@dataclass(frozen=True)
class EndingShift:
    user_id: str
    start: datetime
    end: datetime


def ending_shift(index: ScheduleIndex, handoff: datetime) -> EndingShift | None:
    """Return whose primary shift ends at `handoff` and since when; None in a gap or when the same person goes on."""
    before, after = index.who_is_on_call(handoff - _TICK), index.who_is_on_call(handoff)
    if before.primary is None or before.primary == after.primary:
        return None
    # A day of slack: across a DST change the previous handoff is 167 or 169 hours back, not `length`.
    earlier = index.handoffs(handoff - index.spec.length - timedelta(days=1), handoff)
    start = earlier[-1] if earlier else handoff - index.spec.length
    return EndingShift(before.primary, start, handoff)


def parse_score(value: str) -> tuple[int, int]:
    """Return (check-in id, score) from a button value "12:4"; `answer_checkin` checks the score's range."""
    try:
        checkin_id, score = (int(part) for part in value.split(":"))
    except ValueError:
        raise UsageError(f"Not a check-in answer: {value!r}.") from None
    return checkin_id, score


def answer_checkin(store: CheckinStore, audit: AuditSink, *, checkin_id: int, user_id: str, score: int, now: datetime, via: str) -> Checkin:
    """Store the outgoing primary's rating (pressing again changes it); audited with before and after."""
    if score not in SCORES:
        raise UsageError(f"A shift is rated 1 to 5, not {score}.")
    checkin = store.get_checkin(checkin_id)
    if checkin is None:
        raise NotFound("That check-in no longer exists.")
    if checkin.user_id != user_id:
        raise NotAllowed(f"Only <@{checkin.user_id}>, whose shift it was, can rate it.")
    updated = store.set_checkin_score(checkin_id=checkin_id, score=score, now=now)
    audit.record(AuditRecord(
        at=now, actor=user_id, action="checkin_answered" if checkin.score is None else "checkin_changed", via=via,
        target=f"checkin:{checkin_id}", team_id=str(checkin.team_id),
        before={"score": checkin.score} if checkin.score is not None else None, after={"score": score},
    ))
    return updated
