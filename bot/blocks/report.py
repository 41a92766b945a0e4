"""Block Kit builders for the team report, the report settings answer, exports and the end-of-shift check-in."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from bot.blocks.limits import fit_message
from bot.crisis import describe_language_mix
from bot.page_hours import HourKind
from bot.plural import counted
from bot.reports import ReportDelivery, Durations, PersonLoad, TeamReport
from bot.shift_checkin import SCORE_WORDS, SCORES, Checkin
from bot.slack_time import slack_date

MAX_PEOPLE_LINES = 25
MAX_GAP_LINES = 10
MAX_COVER_LINES = 10

Message = tuple[str, list[dict[str, Any]]]


class ReportActions(StrEnum):
    """action_ids of report and check-in buttons."""

    checkin_score = "report-checkin-score"


def duration_text(value: timedelta | None) -> str:
    """Return "—", "45 s", "7 min" or "2 h 05 min"."""
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _beside(now: Durations, before: Durations) -> str:
    return (f"median {duration_text(now.median)}, p90 {duration_text(now.p90)} ({now.count})"
            f"  ·  before: {duration_text(before.median)}, p90 {duration_text(before.p90)} ({before.count})")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "none"


def _hours(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _person_line(person: PersonLoad) -> str:
    pages = person.pages
    parts = [f"<@{person.user_id}>: {counted(person.page_total, 'page')} (business {pages[HourKind.business]}, off {pages[HourKind.off]}, "
             f"sleep {pages[HourKind.sleep]})",
             f"primary {_hours(person.primary_hours)} h, backup {_hours(person.backup_hours)} h"]
    if person.weekend_days or person.holidays:
        parts.append(f"{counted(person.weekend_days, 'weekend day')}, {counted(person.holidays, 'holiday')}")
    if person.covers_taken:
        parts.append(f"took cover {person.covers_taken}×")
    if person.checkin_average is not None:
        parts.append(f"felt {person.checkin_average:g}/5 ({person.checkins} check-ins)")
    return " · ".join(parts) + f" _({person.tz})_"


def build_report(report: TeamReport) -> Message:
    """Return (text, blocks) of a team report; long lists are cut with a count of what was left out."""
    tz = report.team.tz
    span = f"{slack_date(report.start, tz)} → {slack_date(report.end, tz)}"
    weeks = f"{report.weeks} week{'s' if report.weeks != 1 else ''}"
    share = f"{report.false_alarm_share:.0%}" if report.false_alarm_share is not None else "—"
    summary = (f"{report.team.name} report, last {weeks}: {counted(report.crises, 'crisis')} ({share} false alarms), "
               f"time to acknowledge median {duration_text(report.time_to_ack.median)}, "
               f"{counted(sum(p.page_total for p in report.people), 'page')}, coverage gaps {duration_text(report.gap_total) if report.gaps else 'none'}.")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{report.team.name}: report for the last {weeks}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{span} ({tz}). Pages are split by each person's own day: "
                                                                     "business 08–18 weekdays, sleep 22–08, off the rest."}]},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*Crises*\n{report.crises}"},
            {"type": "mrkdwn", "text": f"*False alarms*\n{report.false_alarms} ({share})"},
            {"type": "mrkdwn", "text": f"*By severity*\n{_counts(report.by_severity)}"},
            {"type": "mrkdwn", "text": f"*By topic*\n{_counts(report.by_topic)}"},
            *([{"type": "mrkdwn", "text": "*Languages (negative)*\n" + describe_language_mix(report.negative_languages)}]
              if report.negative_languages else []),
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            f"*Time to acknowledge*: {_beside(report.time_to_ack, report.time_to_ack_before)}\n"
            f"*Time to resolve*: {_beside(report.time_to_resolve, report.time_to_resolve_before)}"}},
        {"type": "divider"},
    ]
    people = report.people[:MAX_PEOPLE_LINES]
    lines = [_person_line(p) for p in people]
    if len(report.people) > len(people):
        lines.append(f"…and {len(report.people) - len(people)} more")
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Load per person*\n" + ("\n".join(lines) or "nobody")}})
    if report.gaps:
        gap_lines = [f"{slack_date(g.start, tz)} → {slack_date(g.end, tz)}" for g in report.gaps[:MAX_GAP_LINES]]
        if len(report.gaps) > MAX_GAP_LINES:
            gap_lines.append(f"…and {len(report.gaps) - MAX_GAP_LINES} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text":
            f"*Coverage gaps* ({duration_text(report.gap_total)} with nobody on call)\n" + "\n".join(gap_lines)}})
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "No coverage gaps: someone was always on call."}]})
    if report.covers:
        cover_lines = [f"<@{c.taken_by}> covered <@{c.requester}> {slack_date(c.start, tz)} → {slack_date(c.end, tz)}"
                       for c in report.covers[:MAX_COVER_LINES]]
        if len(report.covers) > MAX_COVER_LINES:
            cover_lines.append(f"…and {len(report.covers) - MAX_COVER_LINES} more")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Cover requests taken*\n" + "\n".join(cover_lines)}})
    if report.handover_notes:
        note_lines = [f"{slack_date(n.handoff, tz)} <@{n.author}>: {' '.join(n.text.split())[:280]}" for n in report.handover_notes[-MAX_COVER_LINES:]]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": ("*Handover notes*\n" + "\n".join(note_lines))[:3000]}})
    return fit_message(summary, blocks, owned=True)


def build_charts_note(where: str) -> str:
    return f"Charts (crises per day, time to acknowledge, load per person): {where}."


def build_delivery_changed(team_name: str, delivery: ReportDelivery) -> Message:
    text = {
        ReportDelivery.channel: f"The weekly report of *{team_name}* will be posted in its announcements channel after each handoff "
                          "(DM'd to the admins if it has none).",
        ReportDelivery.admins: f"The weekly report of *{team_name}* will be DM'd to the admins after each handoff.",
        ReportDelivery.off: f"No weekly report for *{team_name}*. `/oncall report` still answers on demand.",
    }[delivery]
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}], owned=True)


def build_checkin_question(checkin: Checkin) -> Message:
    """Return the end-of-shift DM: "How heavy was this shift?" with buttons 1-5 (the chosen one highlighted once answered)."""
    span = f"{slack_date(checkin.shift_start, 'UTC')} → {slack_date(checkin.shift_end, 'UTC')}"
    question = f"Your shift as primary for *{checkin.team_name}* just ended ({span}). How heavy was this shift?"
    buttons = []
    for score in SCORES:
        button: dict[str, Any] = {"type": "button", "action_id": f"{ReportActions.checkin_score}-{score}", "value": f"{checkin.id}:{score}",
                                  "text": {"type": "plain_text", "text": f"{score} {SCORE_WORDS[score]}"}}
        if score == checkin.score:
            button["style"] = "primary"
        buttons.append(button)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": question}},
        {"type": "actions", "block_id": f"checkin-{checkin.id}", "elements": buttons},
    ]
    if checkin.score is None:
        note = "1 = light, 5 = exhausting. Your answer goes into the team report; only averages are shown."
        text = f"How heavy was your {checkin.team_name} shift? Answer 1-5."
    else:
        note = f":white_check_mark: Thanks — you rated this shift {checkin.score}/5 ({SCORE_WORDS[checkin.score]}). Press another number to change it."
        text = f"You rated your {checkin.team_name} shift {checkin.score}/5."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return fit_message(text, blocks, owned=True)
