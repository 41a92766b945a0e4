"""The report and check-in messages: the figures appear, limits hold with many people, buttons carry the answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.blocks.report import ReportActions, build_checkin_question, build_report, duration_text
from bot.page_hours import HourKind
from bot.reports import PersonLoad, build_report as compute, report_period
from bot.shift_checkin import Checkin
from tests.bot.test_reports import END, START, seeded


def _report():
    return compute(seeded(), report_period(END, tz="Europe/Rome", weeks=1))


def test_report_message_shows_the_figures_and_has_a_fallback():
    """The text fallback summarises; the blocks carry medians beside the week before, per-person lines and the gap."""
    text, blocks = build_report(_report())
    assert text.startswith("social report, last 1 week: 4 crises (25% false alarms), time to acknowledge median 7 min")
    body = str(blocks)
    assert "median 7 min, p90 20 min (4)  ·  before: 7 min, p90 8 min (2)" in body
    assert "<@U0BEN>: 3 pages (business 0, off 2, sleep 1) · primary 155 h, backup 0 h · 2 weekend days, 1 holiday · felt 4/5" in body
    assert "2 h 00 min with nobody on call" in body and "<@U0CAI> covered <@U0BEN>" in body


def test_report_with_two_hundred_people_stays_within_block_kit_limits():
    """People lines are cut with a count; no section text passes 3000 characters and there are at most 50 blocks."""
    report = _report()
    many = [PersonLoad(f"U{n:08d}", "UTC", {k: n % 3 for k in HourKind}, 1.5, 0, 0, 0, 0, None, 0) for n in range(200)]
    text, blocks = build_report(replace(report, people=many))
    assert len(blocks) <= 50 and text
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)
    assert "…and 175 more" in str(blocks)


def test_check_in_question_has_five_buttons_and_marks_the_answer():
    """Unanswered: five buttons valued "id:score"; answered 4: the fourth is primary and a thank-you is shown."""
    checkin = Checkin(12, 1, "social", "U0BEN", START, END)
    _, blocks = build_checkin_question(checkin)
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b["value"] for b in buttons] == [f"12:{n}" for n in range(1, 6)]
    assert {b["action_id"] for b in buttons} == {f"{ReportActions.checkin_score}-{n}" for n in range(1, 6)}
    text, blocks = build_checkin_question(replace(checkin, score=4))
    buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [b.get("style") for b in buttons] == [None, None, None, "primary", None]
    assert "4/5" in text and "Press another number to change it" in str(blocks)


def test_durations_read_naturally():
    """Seconds, minutes, hours with minutes, and a dash for none."""
    assert [duration_text(v) for v in (None, timedelta(seconds=45), timedelta(minutes=7), timedelta(minutes=125))] == [
        "—", "45 s", "7 min", "2 h 05 min"]


def test_one_page_reads_singular():
    """A person with one page reads "1 page", not "1 pages"; the summary counts agree."""
    one = PersonLoad("U0ONE", "UTC", {HourKind.business: 1, HourKind.off: 0, HourKind.sleep: 0}, 10, 0, 0, 0, 0, None, 0)
    text, blocks = build_report(replace(_report(), people=[one], crises=1))
    assert "<@U0ONE>: 1 page (business 1" in str(blocks)
    assert "1 crisis (" in text and ", 1 page, coverage" in text


def test_report_names_the_language_mix_of_negative_mentions_only_when_there_is_one():
    """"Languages (negative)" shows the period's mix as the crisis card writes it; no mix, no field."""
    _, blocks = build_report(replace(_report(), negative_languages=(("it", 0.62), ("en", 0.3))))
    assert "*Languages (negative)*\\n62 % it, 30 % en" in str(blocks)
    _, blocks = build_report(_report())
    assert "Languages (negative)" not in str(blocks)
