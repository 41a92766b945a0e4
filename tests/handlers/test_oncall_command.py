"""`/oncall who|schedule|me` through signed requests against the real app and the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.rotation import HandoffRule, next_handoff
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
    ("schedule 40", "Weeks must be between 1 and 12"),
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
