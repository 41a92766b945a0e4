"""App Home view builder: one member's on-call picture and their settings, within the 100-block view limit."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Any

from bot.blocks.limits import fit_view
from bot.blocks.oncall import OncallActions
from bot.command_grammar import Grammar
from bot.home import SLACK_ZONE, TEAM_CALENDAR, HomeContent, HomeCrisis, MemberSettings, PageVia, TeamNow
from bot.oncall import CoverRequestInfo
from bot.rotation import supported_countries
from bot.rotation_messages import TeamHealth
from bot.slack_time import slack_date

# Each list is capped so the whole view stays well under 100 blocks; the rest is counted in a "more" note.
MAX_TEAMS = 10
MAX_CRISES = 10
MAX_COVERS = 10
MAX_HEALTH_TEAMS = 8
MAX_HEALTH_LINES = 6

ZONES = (
    "UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin", "Europe/Rome", "Europe/Madrid",
    "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Europe/Istanbul", "Africa/Lagos",
    "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
    "Pacific/Auckland", "America/Sao_Paulo", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "America/Mexico_City", "America/Toronto",
)
HOURS = tuple(time(hour, 0) for hour in range(24))


class HomeActions(StrEnum):
    """action_ids of the Home's own controls (Take reuses OncallActions.cover_take)."""

    tz = "home-settings-tz"
    quiet_start = "home-settings-quiet-start"
    quiet_end = "home-settings-quiet-end"
    quiet_off = "home-settings-quiet-off"
    page_dm = "home-settings-page-dm"
    page_channel = "home-settings-page-channel"
    holiday_country = "home-settings-holiday-country"
    open_setup = "home-open-setup"


def _text(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _note(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _more(shown: int, total: int, what: str, where: str) -> list[dict[str, Any]]:
    return [_note(f"…and {total - shown} more {what}: {where}")] if total > shown else []


def _person(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_nobody_"


def _on_call_now(team: TeamNow) -> dict[str, Any]:
    tz, shift = team.team.tz, team.now
    if shift.primary is None:
        return _text(f"*{team.team.name}*: :warning: nobody is on call until {slack_date(shift.end, tz)}")
    people = f"primary {_person(shift.primary)}, backup {_person(shift.backup)}"
    if shift.shadow:
        people += f", shadow {_person(shift.shadow)}"
    return _text(f"*{team.team.name}*: {people} until {slack_date(shift.end, tz)}")


def _crisis(crisis: HomeCrisis) -> list[dict[str, Any]]:
    where = f" in <#{crisis.channel}>" if crisis.channel else ""
    team = f" ({crisis.team})" if crisis.team else ""
    blocks = [_text(f":rotating_light: *{crisis.severity}* {crisis.title}{team} — {crisis.status} since "
                    f"{slack_date(crisis.started_at, 'UTC')}{where}")]
    if crisis.buttons:
        blocks.append({"type": "actions", "block_id": f"home-crisis-{crisis.id}", "elements": [
            {"type": "button", "action_id": b.action_id, "value": b.value, "text": _plain(b.label), **({"style": b.style} if b.style else {})}
            for b in crisis.buttons
        ]})
    return blocks


def _cover(request: CoverRequestInfo) -> dict[str, Any]:
    tz = request.team.tz
    note = f" — {request.note}" if request.note else ""
    # The same action_id and value as the channel card, so handlers/oncall_actions.py takes it the same way.
    return {"type": "section", "block_id": f"home-cover-{request.id}",
            "text": {"type": "mrkdwn", "text": f"*{request.team.name}*: <@{request.requester}> needs cover "
                                               f"{slack_date(request.start, tz)} → {slack_date(request.end, tz)}{note}"},
            "accessory": {"type": "button", "action_id": OncallActions.cover_take, "value": str(request.id), "style": "primary", "text": _plain("Take")}}


def _health(report: TeamHealth) -> dict[str, Any]:
    tz = report.team.tz
    lines = [f":warning: nobody on call {slack_date(s.start, tz)} → {slack_date(s.end, tz)}" for s in report.gaps]
    lines += [f"no backup {slack_date(s.start, tz)} → {slack_date(s.end, tz)}" for s in report.no_backup]
    lines += [f"{', '.join(_person(u) for u in s.holiday_workers)} working a public holiday {slack_date(s.start, tz)} → {slack_date(s.end, tz)}"
              for s in report.holiday_worked]
    shown = lines[:MAX_HEALTH_LINES]
    if len(lines) > len(shown):
        shown.append(f"…and {len(lines) - len(shown)} more")
    return _text(f"*{report.team.name}*\n" + "\n".join(shown))


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _zone_select(settings: MemberSettings, slack_tz: str) -> dict[str, Any]:
    slack_choice = _option(f"My Slack zone ({slack_tz})", SLACK_ZONE)
    zones = list(ZONES) if settings.tz is None or settings.tz in ZONES else [settings.tz, *ZONES]
    options = [slack_choice, *(_option(z, z) for z in zones)]
    initial = slack_choice if settings.tz is None else _option(settings.tz, settings.tz)
    return {"type": "static_select", "action_id": HomeActions.tz, "options": options, "initial_option": initial}


def _calendar_select(settings: MemberSettings) -> dict[str, Any]:
    # 250-odd calendars: grouped by first letter, since a select holds at most 100 options per group.
    team_choice = _option("My team's default", TEAM_CALENDAR)
    groups: dict[str, list[dict[str, Any]]] = {}
    for code in sorted(c for c in supported_countries() if len(c) == 2):
        groups.setdefault(code[0], []).append(_option(code, code))
    option_groups = [{"label": _plain("Default"), "options": [team_choice]}]
    option_groups += [{"label": _plain(letter), "options": options} for letter, options in groups.items()]
    chosen = settings.holiday_country
    initial = team_choice if chosen is None else _option(chosen, chosen)
    return {"type": "static_select", "action_id": HomeActions.holiday_country, "option_groups": option_groups, "initial_option": initial}


def _hour_select(action_id: str, label: str, current: time | None) -> dict[str, Any]:
    hours = list(HOURS) if current is None or current in HOURS else sorted([current, *HOURS])
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "placeholder": _plain(label),
                               "options": [_option(h.strftime("%H:%M"), h.strftime("%H:%M")) for h in hours]}
    if current is not None:
        element["initial_option"] = _option(current.strftime("%H:%M"), current.strftime("%H:%M"))
    return element


def _settings(settings: MemberSettings, slack_tz: str) -> list[dict[str, Any]]:
    zone = settings.tz or slack_tz
    quiet = (f"{settings.quiet_start:%H:%M}–{settings.quiet_end:%H:%M} ({zone})" if settings.quiet_start and settings.quiet_end else "off")
    via = "a direct message" if settings.page_via is PageVia.dm else "an @-mention in the team's crisis channel"
    quiet_controls = [_hour_select(HomeActions.quiet_start, "Quiet from", settings.quiet_start),
                      _hour_select(HomeActions.quiet_end, "Quiet until", settings.quiet_end)]
    if settings.quiet_start:
        quiet_controls.append({"type": "button", "action_id": HomeActions.quiet_off, "value": "off", "text": _plain("Turn quiet hours off")})
    return [
        {"type": "header", "text": _plain("Your settings")},
        {"type": "section", "block_id": "home-settings-tz", "text": {"type": "mrkdwn", "text": f"*Time zone*: {zone}" + (" (from Slack)" if settings.tz is None else "")},
         "accessory": _zone_select(settings, slack_tz)},
        {"type": "section", "block_id": "home-settings-holidays",
         "text": {"type": "mrkdwn", "text": "*Public holidays*: " + (f"the {settings.holiday_country} calendar" if settings.holiday_country
                                                                     else "your team's calendar") + " (teams that observe holidays skip you then)"},
         "accessory": _calendar_select(settings)},
        _text(f"*Quiet hours*: {quiet}"),
        {"type": "actions", "block_id": "home-settings-quiet", "elements": quiet_controls},
        _text(f"*Pages reach you by* {via}."),
        {"type": "actions", "block_id": "home-settings-page", "elements": [
            {"type": "button", "action_id": HomeActions.page_dm, "value": PageVia.dm.value, "text": _plain("Direct message"),
             **({"style": "primary"} if settings.page_via is PageVia.dm else {})},
            {"type": "button", "action_id": HomeActions.page_channel, "value": PageVia.channel.value, "text": _plain("Channel mention"),
             **({"style": "primary"} if settings.page_via is PageVia.channel else {})},
        ]},
    ]


def build_home(content: HomeContent, *, grammars: tuple[Grammar, ...]) -> dict[str, Any]:
    """Return the Home tab view for `content.user_id`."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain("socialops — your on-call home")},
        _note(f"Hi <@{content.user_id}>. Updated {slack_date(content.now, content.settings.tz or content.slack_tz)}."),
        {"type": "header", "text": _plain("On call now")},
    ]
    if content.teams:
        blocks += [_on_call_now(t) for t in content.teams[:MAX_TEAMS]]
        blocks += _more(MAX_TEAMS, len(content.teams), "teams", "`/oncall who <team>`")
    else:
        blocks.append(_text("You are in no on-call team yet. An admin adds you with `/oncall setup`."))
    if content.my_shifts:
        lines = [f"*{team.name}* — {shift.role.value} {slack_date(shift.start, team.tz)} → {slack_date(shift.end, team.tz)}"
                 for team, shift in content.my_shifts]
        blocks.append(_text("*Your next shifts*\n" + "\n".join(lines)))
    elif content.teams:
        blocks.append(_text("*Your next shifts*\nNone in the coming year."))

    blocks.append({"type": "divider"})
    blocks.append({"type": "header", "text": _plain("Open crises")})
    if content.crises:
        for crisis in content.crises[:MAX_CRISES]:
            blocks += _crisis(crisis)
        blocks += _more(MAX_CRISES, len(content.crises), "open crises", "`/crisis list`")
    else:
        blocks.append(_note("No open crises. :sunny:"))

    blocks.append({"type": "header", "text": _plain("Cover you could take")})
    if content.covers:
        blocks += [_cover(c) for c in content.covers[:MAX_COVERS]]
        blocks += _more(MAX_COVERS, len(content.covers), "cover requests", "see your team's announcements channel")
    else:
        blocks.append(_note("Nobody in your teams is asking for cover."))

    stats = content.stats
    fields = [
        {"type": "mrkdwn", "text": f"*Shifts*\n{stats.shifts}"},
        {"type": "mrkdwn", "text": f"*Hours as primary*\n{stats.primary_hours:.0f}"},
        {"type": "mrkdwn", "text": f"*Hours as backup*\n{stats.backup_hours:.0f}"},
    ]
    if stats.pages is not None:
        fields += [{"type": "mrkdwn", "text": f"*Pages*\n{stats.pages}"},
                   {"type": "mrkdwn", "text": f"*Pages in your sleep hours*\n{stats.sleep_pages}"}]
    blocks += [
        {"type": "header", "text": _plain(f"Your last {stats.days} days")},
        {"type": "section", "fields": fields},
        _note("From the final schedule (overrides, swaps and time off included) and the crisis pages that reached you; "
              "sleep hours are 22:00–08:00 in your zone. `/oncall limits` shows when the backup is offered the rest of a shift."),
        {"type": "divider"},
    ]
    blocks += _settings(content.settings, content.slack_tz)

    if content.is_admin:
        blocks += [{"type": "divider"}, {"type": "header", "text": _plain("Schedule health (next 14 days)")}]
        if content.health:
            blocks += [_health(h) for h in content.health[:MAX_HEALTH_TEAMS]]
            blocks += _more(MAX_HEALTH_TEAMS, len(content.health), "teams with findings", "the daily health DM lists them all")
        else:
            blocks.append(_note(":white_check_mark: Every team has a primary and a backup for the next 14 days."))
        blocks.append({"type": "actions", "block_id": "home-admin", "elements": [
            {"type": "button", "action_id": HomeActions.open_setup, "value": "setup", "text": _plain("Open /oncall setup")}]})

    blocks.append({"type": "divider"})
    blocks.append(_note(" · ".join(f"*{g.command}* — {g.summary} (`{g.command} help`)" for g in grammars)))
    return fit_view({"type": "home", "blocks": blocks})
