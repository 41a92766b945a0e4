"""`/oncall` Block Kit builders: long schedules are split between rows, never inside a Slack token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.blocks import limits
from bot.blocks.oncall import build_schedule
from bot.oncall import ScheduleAnswer, TeamInfo
from bot.rotation import Reason, Shift

TEAM = TeamInfo(id=1, name="social", tz="Europe/Rome", workspace_id="T0DEMO")
TEAM_ZONE = ZoneInfo(TEAM.tz)
START = datetime(2026, 12, 21, 8, 0, tzinfo=UTC)
_TOKEN = re.compile(r"<[^<>]*>")


def _follow_the_sun_shifts(count: int) -> list[Shift]:
    """Eight-hour stretches with a shadow and a reason note, as a follow-the-sun holiday team gets them."""
    people = [f"U0LONGUSER{i:02d}" for i in range(6)]
    return [Shift(START + timedelta(hours=8 * i), START + timedelta(hours=8 * (i + 1)), people[i % 6], people[(i + 1) % 6],
                  people[(i + 2) % 6], Reason.HOLIDAY, window="emea") for i in range(count)]


def _section_lines(blocks: list[dict]) -> list[str]:
    return [line for b in blocks if b["type"] == "section" for line in b["text"]["text"].split("\n")]


def test_long_schedule_sections_hold_whole_rows_within_the_section_limit():
    """84 stretches (four weeks of 8-hour windows) all appear, each row whole, every section within 3,000 characters."""
    shifts = _follow_the_sun_shifts(84)
    _, blocks = build_schedule(ScheduleAnswer(team=TEAM, shifts=shifts, weeks=4))
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= limits.SECTION_TEXT for text in sections)
    lines = _section_lines(blocks)
    assert len(lines) == 84
    for shift, line in zip(shifts, lines):
        assert line.startswith(f"<!date^{int(shift.start.timestamp())}^") and line.endswith("(covering a public holiday)")
        assert line.count("<") == line.count(">") == len(_TOKEN.findall(line))


def test_schedule_too_long_for_one_message_says_where_to_continue():
    """Past the 50-block limit the answer lists what fits and names the first stretch left out, with a `from` command."""
    shifts = _follow_the_sun_shifts(1200)
    _, blocks = build_schedule(ScheduleAnswer(team=TEAM, shifts=shifts, weeks=52))
    assert len(blocks) <= limits.MESSAGE_BLOCKS
    listed = len(_section_lines(blocks))
    note = blocks[-2]["elements"][0]["text"]
    assert f"{1200 - listed} more stretches" in note
    first_left_out = shifts[listed].start.astimezone(TEAM_ZONE)
    assert f"`/oncall schedule social from {first_left_out:%Y-%m-%d}`" in note


def test_clip_never_cuts_inside_a_token():
    """A cut that would land inside `<!date^…>` moves before the token's `<`."""
    token = "<!date^1766304000^{date_short_pretty} {time}|Sun 21 Dec 09:00 CET>"
    text = "x" * 90 + token + " tail"
    for limit in range(91, 90 + len(token)):
        clipped = limits.clip(text, limit)
        assert len(clipped) <= limit
        assert clipped == "x" * 90 + limits.ELLIPSIS
    assert limits.clip(text, 90 + len(token) + 1) == "x" * 90 + token + limits.ELLIPSIS

