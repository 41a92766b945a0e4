"""The offboarding checklist message: one line per account to revoke, a Confirm button until done."""

from __future__ import annotations

from typing import Any

from bot.blocks.limits import fit_message
from bot.blocks.oncall import OncallActions
from bot.offboarding import OffboardingTaskInfo
from bot.slack_time import slack_date


def build_checklist(user_id: str, tasks: list[OffboardingTaskInfo]) -> tuple[str, list[dict[str, Any]]]:
    """Return (text, blocks) of the revoke-access checklist for the person who left."""
    headline = f"<@{user_id}> left the on-call rotation. Revoke their access to the brand's accounts and tools:"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": headline}}]
    if not tasks:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "No accounts are listed for their teams; add them in `/oncall setup`."}]})
    for task in tasks:
        if task.confirmed_by:
            done = f":white_check_mark: *{task.item}* ({task.team_name}) — revoked, confirmed by <@{task.confirmed_by}>"
            if task.confirmed_at:
                done += f" at {slack_date(task.confirmed_at, 'UTC')}"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": done}})
        else:
            blocks.append({"type": "section", "block_id": f"offboard-{task.id}", "text": {"type": "mrkdwn", "text": f":black_square_button: *{task.item}* ({task.team_name})"},
                           "accessory": {"type": "button", "action_id": OncallActions.offboard_confirm, "value": str(task.id),
                                         "text": {"type": "plain_text", "text": "Confirm revoked"}}})
    open_count = sum(1 for t in tasks if not t.confirmed_by)
    return fit_message(f"{headline} {open_count} of {len(tasks)} still to confirm.", blocks)
