"""Block Kit for `/crisis reach`: your phone, what rings you besides Slack, and your quiet-hours rule."""

from __future__ import annotations

from typing import Any

from bot.blocks.limits import fit_message
from bot.reach import PersonReach, ProvidersConfigured, QuietRule, StepKind, offered_kinds
from bot.spikes import Severity

REACH_USAGE = (
    "`/crisis reach` shows how you are reached beyond Slack; then:\n"
    "`/crisis reach phone +39 333 123 4567` — your number (a code is texted to it) · `/crisis reach verify 123456`\n"
    "`/crisis reach kinds call sms` — what rings you on a step that pages you (`slack` for Slack only)\n"
    "`/crisis reach quiet sev1=phone sev2=phone sev3=slack` — during your quiet hours, phone or Slack only per severity"
)


def build_reach_answer(person: PersonReach | None, configured: ProvidersConfigured, *, note: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Return the person's reach settings and what this bot offers."""
    offered = [k.value for k in offered_kinds(configured)]
    if not configured.twilio:
        text = "Phone calls and SMS are not set up on this bot (no Twilio credentials), so Slack is how you are paged."
    else:
        phone = "no number yet"
        if person is not None and person.phone:
            phone = f"{person.phone} ({'verified' if person.verified_phone else 'waiting for its code'})"
        kinds = ", ".join(k.value for k in (person.kinds if person else (StepKind.call,))) or "slack only"
        rule = (person.quiet if person else QuietRule())
        quiet = ", ".join(f"{s.label} {rule.choice(s).value}" for s in Severity)
        text = f"*Phone* {phone}\n*Besides Slack, a step that pages you* {kinds}\n*During your quiet hours* {quiet}"
    text += f"\n_Step kinds on this bot: {', '.join(offered)}._"
    if note:
        text = f"{note}\n{text}"
    return fit_message(text.split("\n")[0], [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                                              {"type": "context", "elements": [{"type": "mrkdwn", "text": REACH_USAGE}]}])
