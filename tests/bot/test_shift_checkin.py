"""End-of-shift check-in: whose shift ends at a handoff, reading the button, and answering (once, changeable, audited)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.errors import NotAllowed, NotFound, UsageError
from bot.rotation import Layers, Override, RotationSpec, ScheduleIndex
from bot.shift_checkin import Checkin, answer_checkin, ending_shift, parse_score
from tests.fakes.memory import MemoryAudit

ANA, BEN = "U0ANA", "U0BEN"
EPOCH = datetime(2026, 10, 12, 7, 0, tzinfo=UTC)  # Monday 09:00 Rome
SPEC = RotationSpec(tz=ZoneInfo("Europe/Rome"), roster=(ANA, BEN), epoch=EPOCH)


class Store:
    def __init__(self) -> None:
        self.rows: dict[int, Checkin] = {1: Checkin(1, 7, "social", BEN, EPOCH, EPOCH + timedelta(days=7))}

    def create_checkin(self, **_: object) -> Checkin:
        raise AssertionError("not used here")

    def get_checkin(self, checkin_id: int) -> Checkin | None:
        return self.rows.get(checkin_id)

    def set_checkin_score(self, *, checkin_id: int, score: int, now: datetime) -> Checkin:
        self.rows[checkin_id] = replace(self.rows[checkin_id], score=score, answered_at=now)
        return self.rows[checkin_id]


def test_the_outgoing_primary_and_their_shift_start_are_found_at_a_handoff_across_dst():
    """At Mon 26 Oct 09:00 CET (after the clocks went back) Ben's week ends; it began Mon 19 Oct 09:00 CEST."""
    index = ScheduleIndex(SPEC, Layers())
    handoff = datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    ending = ending_shift(index, handoff)
    assert ending is not None and (ending.user_id, ending.start, ending.end) == (BEN, datetime(2026, 10, 19, 7, 0, tzinfo=UTC), handoff)


def test_no_check_in_when_the_same_person_stays_primary_or_nobody_was():
    """An override that carries Ana over the handoff means her shift did not end; before the epoch nobody was on call."""
    handoff = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    carried = Layers(overrides=(Override(ANA, handoff - timedelta(hours=1), handoff + timedelta(days=1), EPOCH),))
    assert ending_shift(ScheduleIndex(SPEC, carried), handoff) is None
    assert ending_shift(ScheduleIndex(SPEC, Layers()), EPOCH) is None


def test_button_values_are_read_and_checked():
    """"12:4" is check-in 12, score 4; a 6 or garbage is a usage error (the range is checked when answering)."""
    assert parse_score("12:4") == (12, 4)
    for bad in ("12:6", "12", "x:1"):
        with pytest.raises(UsageError):
            checkin_id, score = parse_score(bad)
            answer_checkin(Store(), MemoryAudit(), checkin_id=checkin_id, user_id=BEN, score=score, now=EPOCH, via="button")


def test_first_answer_is_stored_and_a_second_press_changes_it_both_audited():
    """Ben answers 3 then 5: the store holds 5; the audit has answered (no before) then changed (3 → 5)."""
    store, audit = Store(), MemoryAudit()
    now = EPOCH + timedelta(days=7, minutes=5)
    assert answer_checkin(store, audit, checkin_id=1, user_id=BEN, score=3, now=now, via="button").score == 3
    assert answer_checkin(store, audit, checkin_id=1, user_id=BEN, score=5, now=now, via="button").score == 5
    assert [(r.action, r.before, r.after) for r in audit.records] == [
        ("checkin_answered", None, {"score": 3}), ("checkin_changed", {"score": 3}, {"score": 5})]


def test_only_the_person_whose_shift_it_was_can_answer():
    """Ana pressing Ben's check-in is refused and nothing is stored; an unknown check-in is not found."""
    store, audit = Store(), MemoryAudit()
    with pytest.raises(NotAllowed):
        answer_checkin(store, audit, checkin_id=1, user_id=ANA, score=2, now=EPOCH, via="button")
    with pytest.raises(NotFound):
        answer_checkin(store, audit, checkin_id=99, user_id=BEN, score=2, now=EPOCH, via="button")
    assert store.rows[1].score is None and audit.records == []
