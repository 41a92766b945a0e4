"""Block Kit builders for the automatic rotation messages: handoff announcement, shift DMs, admin notices."""

from __future__ import annotations

from typing import Any

from bot.blocks.burnout import rebalance_blocks
from bot.blocks.limits import fit_message
from bot.oncall import TeamInfo
from bot.rotation import Role
from bot.rotation_messages import Announcement, RotationEventKind, MemberState, Holders, ShiftReminder, TeamHealth
from bot.slack_time import slack_date

_ROLE_WORD = {Role.PRIMARY: "primary", Role.BACKUP: "backup", Role.SHADOW: "shadow"}
_PROBLEM = {
    MemberState.DEACTIVATED: "is deactivated in Slack",
    MemberState.LEFT: "has left the workspace",
    MemberState.CANNOT_DM: "cannot be sent a DM",
}


def _person(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_nobody_"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _lineup(people: Holders) -> str:
    text = f"primary {_person(people.primary)}, backup {_person(people.backup)}"
    return text + (f", shadow {_person(people.shadow)}" if people.shadow else "")


def build_announcement(announcement: Announcement) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) for the handoff post: outgoing → incoming, the week ahead, what is carried over."""
    team, tz = announcement.team, announcement.team.tz
    incoming = announcement.incoming
    headline = f"On-call handoff for *{team.name}* at {slack_date(announcement.handoff, tz)}"
    if incoming.primary is None:
        change = f"*Nobody is on call* from now (was {_lineup(announcement.outgoing)}) — an admin should add an override."
    else:
        change = f"{_lineup(announcement.outgoing)} → *{_lineup(incoming)}*"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"On-call handoff: {team.name}"}},
        _section(f"{headline}\n{change}"),
    ]
    week = [f"{slack_date(s.start, tz)} → {slack_date(s.end, tz)}: {_lineup(Holders.of(s))}" for s in announcement.coming]
    if week:
        blocks.append(_section("*The week ahead*\n" + "\n".join(week[:20])))
    if announcement.crises:
        blocks.append(_section("*Open crises carried over*\n" + "\n".join(f"• {c.title}" for c in announcement.crises[:15])))
    if announcement.cover_requests:
        lines = [f"• {_person(c.requester)} needs cover {slack_date(c.start, tz)} → {slack_date(c.end, tz)}" + (f": {c.note}" if c.note else "")
                 for c in announcement.cover_requests[:15]]
        blocks.append(_section("*Cover requests still open*\n" + "\n".join(lines)))
    if announcement.rebalance is not None:
        blocks += rebalance_blocks(announcement.rebalance)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Handoffs follow {tz} wall-clock time. `/oncall schedule` shows more."}]})
    return fit_message(f"{headline}: {change}", blocks)


def build_reminder(reminder: ShiftReminder) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) for a DM 24 h / 1 h before a shift, or at its start."""
    tz, role = reminder.team.tz, _ROLE_WORD[reminder.role]
    until = slack_date(reminder.end, tz)
    partner_role = "backup" if reminder.role is Role.PRIMARY else "primary"
    partner = f"Your {partner_role}: {_person(reminder.partner)}."
    if reminder.kind is RotationEventKind.ON_CALL_NOW:
        text = f"You're on call now for *{reminder.team.name}* as {role}, until {until}. {partner}"
    else:
        hours = max(1, round((reminder.start - reminder.now).total_seconds() / 3600))
        text = (f"Reminder: you're {role} for *{reminder.team.name}* from {slack_date(reminder.start, tz)} "
                f"(in about {hours} h) until {until}. {partner}")
    return fit_message(text, [_section(text)])


def build_usergroup_disabled(team: TeamInfo, *, usergroup_id: str, error: str) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) telling an admin that the on-call user group cannot be kept in sync."""
    text = (f"I can't update the user group <!subteam^{usergroup_id}> for *{team.name}* (Slack said `{error}`: "
            "user groups need a paid plan and the `usergroups:write` scope). I'll stop trying; "
            "everything else about the rotation keeps working.")
    return fit_message(text, [_section(text)])


def build_health_report(reports: list[TeamHealth]) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) listing what the daily health check found, one section per team."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": "On-call health check"}}]
    summary = []
    for report in reports:
        tz = report.team.tz
        lines = [f"• *No one on call* {slack_date(s.start, tz)} → {slack_date(s.end, tz)}" for s in report.gaps[:10]]
        lines += [f"• No backup {slack_date(s.start, tz)} → {slack_date(s.end, tz)}" for s in report.no_backup[:10]]
        lines += [f"• {', '.join(_person(u) for u in s.holiday_workers)} on call through their public holiday "
                  f"{slack_date(s.start, tz)} → {slack_date(s.end, tz)}: nobody else is free" for s in report.holiday_worked[:10]]
        lines += [f"• {_person(user)} {_PROBLEM[check.state]}" + (f" (`{check.detail}`)" if check.detail else "")
                  for user, check in list(report.problems.items())[:15]]
        blocks.append(_section(f"*{report.team.name}*\n" + "\n".join(lines)))
        summary.append(f"{report.team.name}: {len(lines)} finding{'s' if len(lines) != 1 else ''}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Covers the next 14 days. Fix gaps with `/oncall override`; remove people who left with `/oncall offboard`."}]})
    return fit_message("On-call health check: " + "; ".join(summary), blocks)
