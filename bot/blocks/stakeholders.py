"""Block Kit for the stakeholder cadence: the reminder in the card's thread, the Post update form, the posted update."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.blocks.limits import fit_message
from bot.crisis import Crisis
from bot.stakeholders import MAX_UPDATE_CHARS

STAKEHOLDER_UPDATE_CALLBACK = "crisis-stakeholder-update"


class StakeholderActions(StrEnum):
    post_update = "crisis-stakeholder-post"


def _minutes(interval: timedelta) -> str:
    minutes = int(interval.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 and minutes >= 60 else f"{minutes} min"


def build_update_reminder(crisis: Crisis, *, channel: str | None, interval: timedelta, last_update: datetime | None) -> tuple[str, list[dict[str, Any]]]:
    """Return the reminder to the acknowledger: time for a stakeholder update, with a Post update button."""
    where = f"<#{channel}>" if channel else "this thread (no stakeholders' channel is set: an admin sets one with `/crisis stakeholders #channel`)"
    last = f"last update <!date^{int(last_update.timestamp())}^{{time}}|{last_update:%H:%M} UTC>" if last_update else "no update yet"
    text = (f"<@{crisis.acked_by}> time for a stakeholder update on {crisis.title} (every {_minutes(interval)} at "
            f"{crisis.severity.label}; {last}). It goes to {where}.")
    button = {"type": "button", "action_id": StakeholderActions.post_update.value, "value": str(crisis.id), "style": "primary",
              "text": {"type": "plain_text", "text": "Post update"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
              {"type": "actions", "block_id": f"stakeholder-{crisis.id}", "elements": [button]}]
    return fit_message(f"<@{crisis.acked_by}> time for a stakeholder update on {crisis.title}", blocks)  # the mention notifies


def build_update_modal(crisis: Crisis, *, channel: str | None) -> dict[str, Any]:
    """Return the Post update form: one multiline update for the stakeholders' channel."""
    where = f"Posted to <#{channel}> and recorded on the crisis timeline." if channel else "Recorded on the crisis timeline (no stakeholders' channel set)."
    return {"type": "modal", "callback_id": STAKEHOLDER_UPDATE_CALLBACK, "title": {"type": "plain_text", "text": f"Update on #{crisis.id}"},
            "submit": {"type": "plain_text", "text": "Post update"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"crisis_id": crisis.id}),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{crisis.title}* ({crisis.team_name}). {where}"}},
                       {"type": "input", "block_id": "update", "label": {"type": "plain_text", "text": "Update for the stakeholders"},
                        "element": {"type": "plain_text_input", "action_id": "update", "multiline": True, "max_length": MAX_UPDATE_CHARS}}]}


def build_posted_update(crisis: Crisis, *, author: str, text: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the update as the stakeholders' channel shows it."""
    body = f"*Update on {crisis.title}* ({crisis.status.value.replace('_', ' ')}) from <@{author}>:\n{text}"
    return fit_message(f"Update on {crisis.title}: {text}"[:300], [{"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}])


def build_stakeholders_answer(team_name: str, channel: str | None, *, note: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Return `/crisis stakeholders`: where the team's updates go."""
    text = (f"Stakeholder updates for *{team_name}* go to <#{channel}>." if channel else
            f"*{team_name}* has no stakeholders' channel: updates are recorded on the crisis timeline only.") + (f" {note}" if note else "")
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
