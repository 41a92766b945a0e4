"""`/oncall who|schedule|me` through signed requests against the real app and the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.rotation import HandoffRule, ScheduleIndex, next_handoff
from storage.rotations import Rotations
from zoneinfo import ZoneInfo

ANA, BEN, CAI = "U0DEMO0001", "U0DEMO0002", "U0DEMO0003"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def frozen_runtime(runtime):
    object.__setattr__(runtime.deps, "clock", lambda: NOW)
    return runtime


@pytest.fixture
def rotations(frozen_runtime):
    return Rotations(frozen_runtime.database)


def make_team(rotations, name="social", roster=(ANA, BEN, CAI)):
    epoch = next_handoff(HandoffRule(0, datetime.min.time().replace(hour=9), ZoneInfo("Europe/Rome")), NOW - timedelta(days=15))  # Mon 16 Nov: this is week 1
    return rotations.create_team(workspace_id="T0DEMO", name=name, tz="Europe/Rome", epoch=epoch, now=NOW, roster=list(roster))


def ask(runtime, signed, text, user=ANA):
    response = runtime.app.dispatch(signed.slash_command("/oncall", text, user_id=user, channel_id="C0DEMOTEAM").as_bolt_request())
    assert response.status == 200
    body = json.loads(response.body)
    assert body["response_type"] == "ephemeral"
    return body


def test_who_names_primary_backup_until_and_next(frozen_runtime, signed, rotations):
    """Week 1 of the rotation: Ben primary, Cai backup, until Monday 09:00 Rome; Cai next."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "")
    assert f"primary <@{BEN}>, backup <@{CAI}>" in body["text"]
    assert "Mon 30 Nov 09:00 CET" in body["text"]
    assert f"Next: primary <@{CAI}>" in json.dumps(body["blocks"])


def test_override_changes_who_is_on_call(frozen_runtime, signed, rotations):
    """An override for now makes Ana primary, marked as an override."""
    team_id = make_team(rotations)
    rotations.add_override(team_id=team_id, user_id=ANA, start=NOW - timedelta(hours=1), end=NOW + timedelta(hours=5),
                           now=NOW, created_by=ANA, replaces=BEN)
    body = ask(frozen_runtime, signed, "who social")
    assert f"primary <@{ANA}>" in body["text"] and "(override)" in body["text"]


def test_time_off_skips_the_person(frozen_runtime, signed, rotations):
    """Ben away this week: the next available person is primary."""
    make_team(rotations)
    rotations.add_time_off(workspace_id="T0DEMO", user_id=BEN, start=NOW - timedelta(days=3), end=NOW + timedelta(days=10), now=NOW, created_by=BEN)
    body = ask(frozen_runtime, signed, "who")
    assert f"primary <@{BEN}>" not in body["text"]


def test_schedule_lists_the_coming_weeks(frozen_runtime, signed, rotations):
    """`schedule 3` shows one line per stretch over three weeks."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "schedule social 3")
    section_text = "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")
    assert section_text.count("→") == 4  # the rest of this week, two full weeks, the start of the fourth


def test_me_lists_my_next_shifts(frozen_runtime, signed, rotations):
    """Ana's next shifts are listed soonest first."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "me")
    assert "*social* — backup" in body["text"] or "*social* — primary" in body["text"]


@pytest.mark.parametrize(("text", "expected"), [
    ("who", "No on-call team is set up yet"),
    ("schedule 60", "Weeks must be between 1 and 52"),
    ("who a b", "Usage: `/oncall who [team]`"),
])
def test_bad_requests_get_clear_ephemeral_answers(frozen_runtime, signed, text, expected):
    """Missing teams, out-of-range weeks and extra words are explained, not crashed on."""
    assert expected in ask(frozen_runtime, signed, text)["text"]


def test_several_teams_need_a_name(frozen_runtime, signed, rotations):
    """With two teams, `/oncall` asks which one and lists them."""
    make_team(rotations, "brand-eu")
    make_team(rotations, "brand-us")
    body = ask(frozen_runtime, signed, "")
    assert "brand-eu, brand-us" in body["text"]
    assert "On call for *brand-us*" in ask(frozen_runtime, signed, "who brand-us")["text"]


def _sections(body) -> str:
    return "\n".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")


def test_schedule_from_a_date_keeps_nine_local_across_spring_forward(frozen_runtime, signed, rotations):
    """`schedule from 2027-03-20 4` starts at that date (the asker's zone) and every Monday handoff stays 09:00 Rome, CET then CEST."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "schedule from 2027-03-20 4")
    assert "social: 4 weeks from Sat 20 Mar 2027 00:00" in body["text"]
    sections = _sections(body)
    assert "Mon 22 Mar 09:00 CET" in sections and "Mon 29 Mar 09:00 CEST" in sections and "Mon 12 Apr 09:00 CEST" in sections
    assert sections.count("→") == 5  # the end of one week, three whole weeks, the start of the fifth


def test_schedule_from_a_date_keeps_nine_local_across_fall_back(frozen_runtime, signed, rotations):
    """`schedule social from 2027-10-25 2`: the handoffs of 25 Oct (CEST) and 1 Nov (CET) are both at 09:00 Rome."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "schedule social from 2027-10-25 2")
    sections = _sections(body)
    assert "Mon 25 Oct 09:00 CEST" in sections and "Mon 01 Nov 09:00 CET" in sections


def test_schedule_goes_past_twelve_weeks_but_not_past_a_year(frozen_runtime, signed, rotations):
    """20 weeks are answered (the old cap was 12); 53 weeks get the bounds."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "schedule social 20")
    assert _sections(body).count("→") == 21
    assert "Weeks must be between 1 and 52" in ask(frozen_runtime, signed, "schedule social 53")["text"]


def test_schedule_with_a_word_for_weeks_says_it_is_not_a_number(frozen_runtime, signed, rotations):
    """`/oncall schedule social abc` names the word that is not a number of weeks, with the usage."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, "schedule social abc")
    assert "“abc” is not a number of weeks" in body["text"] and "/oncall schedule [team] [from <date>] [weeks]" in body["text"]


def _rome(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Rome")).astimezone(UTC)


def test_date_only_swap_means_the_shift_covering_that_day(frozen_runtime, signed, rotations):
    """`/oncall swap @ana 2026-12-28` (a Monday; Cai holds it until 09:00): Ana's week from 09:00 Rome is the one asked for."""
    make_team(rotations)
    body = ask(frozen_runtime, signed, f"swap <@{ANA}|ana> 2026-12-28", user=BEN)
    assert f"Asked <@{ANA}> to swap" in body["text"]
    swap = rotations.get_swap_request(1)
    assert swap.other == ANA and swap.other_at == _rome(2026, 12, 28, 9)


@pytest.mark.parametrize(("day", "handoff"), [
    ("2027-03-29", (2027, 3, 29, 9)),  # the Monday after spring-forward: 09:00 CEST = 07:00 UTC
    ("2027-11-01", (2027, 11, 1, 9)),  # the Monday after fall-back: 09:00 CET = 08:00 UTC
])
def test_date_only_swap_finds_the_nine_oclock_shift_across_dst(frozen_runtime, signed, rotations, day, handoff):
    """A date-only swap on the Monday after either DST change finds the shift that starts at 09:00 Rome that day."""
    make_team(rotations)
    rotation = rotations.load_rotation("T0DEMO", "social")
    other = ScheduleIndex(rotation.spec, rotation.layers).who_is_on_call(_rome(*handoff)).primary
    assert other != ANA
    ask(frozen_runtime, signed, f"swap <@{other}|them> {day}", user=ANA)
    assert rotations.get_swap_request(1).other_at == _rome(*handoff)


def _audit_actions(runtime) -> list[str]:
    from sqlmodel import select

    from storage.tables import AuditEntry
    with runtime.database.session_scope() as session:
        return [row.action for row in session.exec(select(AuditEntry).order_by(AuditEntry.id))]


def test_away_list_shows_booked_time_off_and_cancel_removes_one(frozen_runtime, signed, rotations):
    """Two ranges booked: `away list` shows both with ids; `away cancel` of the future one removes it (audited), the schedule forgets it."""
    make_team(rotations)
    first = ask(frozen_runtime, signed, "away 2026-12-24 2026-12-26", user=CAI)
    assert "Time off #1 recorded" in first["text"] and "`/oncall away cancel 1`" in first["text"]
    ask(frozen_runtime, signed, "away 2027-01-10 2027-01-12", user=CAI)
    listed = ask(frozen_runtime, signed, "away list", user=CAI)["text"]
    assert "#1  Thu 24 Dec 2026 00:00" in listed and "#2  Sun 10 Jan 2027 00:00" in listed
    assert "no time off booked" in ask(frozen_runtime, signed, "away list", user=ANA)["text"]
    assert "Time off #1 (Thu 24 Dec 2026 00:00" in (answer := ask(frozen_runtime, signed, "away cancel 1", user=CAI)["text"])
    assert answer.endswith("cancelled.")
    assert "#1 " not in ask(frozen_runtime, signed, "away list", user=CAI)["text"]
    (left,) = rotations.load_rotation("T0DEMO", "social").layers.time_off
    assert left.start.astimezone(ZoneInfo("Australia/Sydney")).date().isoformat() == "2027-01-10"  # Cai reads dates in Sydney
    assert _audit_actions(frozen_runtime)[-1] == "time_off_cancelled"


def test_away_cancel_refuses_someone_elses_or_unknown_time_off(frozen_runtime, signed, rotations):
    """Ana cannot cancel Cai's time off, an unknown id is not found, and a word is not an id; nothing changes."""
    make_team(rotations)
    ask(frozen_runtime, signed, "away 2026-12-24 2026-12-26", user=CAI)
    assert "no time off #1 that is still to come" in ask(frozen_runtime, signed, "away cancel 1", user=ANA)["text"]
    assert "no time off #9" in ask(frozen_runtime, signed, "away cancel 9", user=CAI)["text"]
    assert "“x” is not a time-off id" in ask(frozen_runtime, signed, "away cancel x", user=CAI)["text"]
    assert len(rotations.load_rotation("T0DEMO", "social").layers.time_off) == 1


def test_away_cancel_of_time_off_in_progress_ends_it_now(frozen_runtime, signed, rotations):
    """Cancelling a range that has started ends it at the present instant (what was, stays on record)."""
    make_team(rotations)
    rotations.add_time_off(workspace_id="T0DEMO", user_id=BEN, start=NOW - timedelta(days=1), end=NOW + timedelta(days=3), now=NOW, created_by=BEN)
    assert "ended now" in ask(frozen_runtime, signed, "away cancel 1", user=BEN)["text"]
    (off,) = rotations.load_rotation("T0DEMO", "social").layers.time_off
    assert (off.start, off.end) == (NOW - timedelta(days=1), NOW)


def test_admins_lists_who_the_admins_are_to_everyone(frozen_runtime, signed, rotations):
    """Before any change the admins come from SOCIALOPS_ADMINS (Ana), and anyone may see them."""
    body = ask(frozen_runtime, signed, "admins", user=BEN)
    assert f"Admins: <@{ANA}>." in body["text"] and "SOCIALOPS_ADMINS" in json.dumps(body["blocks"])


def test_admins_add_and_remove_are_admin_only_audited_and_keep_the_adder(frozen_runtime, signed, rotations):
    """Ana adds Ben (Ana, an env admin, stays one); Ben removes Ana; Ben, now the last, cannot remove himself."""
    assert "Only admins can add admins" in ask(frozen_runtime, signed, f"admins add <@{CAI}|cai>", user=BEN)["text"]
    added = ask(frozen_runtime, signed, f"admins add <@{BEN}|ben>", user=ANA)["text"]
    assert f"<@{BEN}> is now an admin" in added and f"Admins: <@{ANA}>, <@{BEN}>." in added
    assert "already an admin" in ask(frozen_runtime, signed, f"admins add <@{BEN}|ben>", user=ANA)["text"]
    removed = ask(frozen_runtime, signed, f"admins remove <@{ANA}|ana>", user=BEN)["text"]
    assert f"<@{ANA}> is no longer an admin" in removed and f"Admins: <@{BEN}>." in removed
    assert "Only admins can remove admins" in ask(frozen_runtime, signed, f"admins remove <@{BEN}|ben>", user=ANA)["text"]
    last = ask(frozen_runtime, signed, f"admins remove <@{BEN}|ben>", user=BEN)["text"]
    assert "You are the last admin" in last
    assert f"Admins: <@{BEN}>." in ask(frozen_runtime, signed, "admins", user=CAI)["text"]
    assert [a for a in _audit_actions(frozen_runtime) if a.startswith("admin_")] == ["admin_added", "admin_removed"]


@pytest.mark.parametrize("text", ["admins promote <@U0DEMO0002|ben>", "admins add ben", "admins add"])
def test_admins_with_bad_words_answers_usage(frozen_runtime, signed, rotations, text):
    """An unknown action or a name that is not a mention gets the usage; the list is unchanged."""
    body = ask(frozen_runtime, signed, text, user=ANA)
    assert "/oncall admins [add|remove @who]" in body["text"]
    assert f"Admins: <@{ANA}>." in ask(frozen_runtime, signed, "admins", user=ANA)["text"]


def test_help_lists_the_new_subcommands(frozen_runtime, signed, rotations):
    """`/oncall help` is generated from the grammar, so it names admins, away list/cancel and schedule's `from`."""
    text = ask(frozen_runtime, signed, "help")["text"] + json.dumps(ask(frozen_runtime, signed, "help").get("blocks"))
    for usage in ("/oncall admins [add|remove @who]", "/oncall away <from> <to> | list | cancel <id>", "/oncall schedule [team] [from <date>] [weeks]"):
        assert usage in text
