"""Block Kit answers of `/crisis tuning` and `/crisis campaign` (ephemeral)."""

from __future__ import annotations

from typing import Any

from bot.blocks.crisis import build_confirmation
from bot.blocks.limits import fit_message
from bot.campaigns import Campaign
from bot.detector_tuning import QuietHours, TopicAdjustment, TuningAnswer
from bot.slack_time import slack_date

_SENSITIVITY = {"low": "low (fewer, bigger spikes page)", "normal": "normal", "high": "high (smaller spikes page too)"}
_QUIET = {QuietHours.page: "page anyway", QuietHours.hold_sev3: "hold SEV3 pages until the person's quiet hours end (SEV1/SEV2 page at once)"}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def build_tuning_answer(answer: TuningAnswer) -> tuple[str, list[dict[str, Any]] | None]:
    """Return a team's detector settings, saying whether they just changed."""
    s = answer.settings
    sensitivity = _SENSITIVITY.get(s.sensitivity, f"threshold {s.sensitivity}")
    head = f"Detector tuning of {answer.team_name}" + (" changed" if answer.changed else "")
    body = (f"*{head}*\n• sensitivity: {sensitivity}\n• minimum count: {s.min_count} negative mentions in 15 minutes\n"
            f"• quiet hours: {_QUIET[s.quiet_hours]}")
    learned = [_learned_line(name, adjustment, answer) for name, adjustment in answer.topics]
    if learned:
        body += "\n*Learned from labels* (fades by half every two weeks; admins: `/crisis tuning reset <topic>`)\n" + "\n".join(learned)
    blocks = [_section(body)]
    if answer.note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": answer.note}]})
    learned_text = "".join(f" {line[2:]}." for line in learned)
    text = (f"{head}: sensitivity {s.sensitivity}, min-count {s.min_count}, quiet-hours {s.quiet_hours.value}.{learned_text} "
            f"{answer.note}").strip()
    return fit_message(text, blocks)


def _learned_line(name: str, adjustment: TopicAdjustment, answer: TuningAnswer) -> str:
    """One topic's learned change, e.g. "• acme: less sensitive (threshold ×1.16; 1 false alarm, 0 missed)"."""
    factor = adjustment.factor(answer.now) if answer.now is not None else 1.0
    direction = "less sensitive" if factor > 1 else "more sensitive"
    alarms = f"{adjustment.false_alarms} false alarm{'s' if adjustment.false_alarms != 1 else ''}"
    return f"• {name}: {direction} (threshold ×{factor:.2f}; {alarms}, {adjustment.missed} missed)"


def _window(campaign: Campaign, tz: str) -> str:
    scope = f"topic *{campaign.topic}*" if campaign.topic else "all topics"
    return f"#{campaign.id} *{campaign.name}* — {slack_date(campaign.starts_at, tz)} → {slack_date(campaign.ends_at, tz)}, {scope}"


def build_campaign_created(campaign: Campaign, *, team_name: str, tz: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Confirm a new campaign window."""
    text = (f"Campaign window set for {team_name}: {_window(campaign, tz)}. While it runs the detector is more sensitive and the "
            f"first page goes to primary and backup together. Cancel it with `/crisis campaign cancel {campaign.id}`.")
    return build_confirmation(text)


def build_campaign_cancelled(campaign: Campaign, *, tz: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Confirm a cancelled campaign window."""
    text = f"Cancelled campaign {_window(campaign, tz)}."
    return build_confirmation(text)


def build_campaign_list(campaigns: list[tuple[str, Campaign]], *, tz: str) -> tuple[str, list[dict[str, Any]] | None]:
    """List running and upcoming campaign windows as (team name, campaign)."""
    if not campaigns:
        text = "No campaign windows are running or planned. Admins add one with `/crisis campaign <name> <from> <to> [topic]`."
        return build_confirmation(text)
    lines = [f"{_window(c, tz)} ({team})" for team, c in campaigns]
    return fit_message("Campaign windows:\n" + "\n".join(lines), [_section("*Campaign windows*\n" + "\n".join(lines))])
