"""Block Kit for crisis playbooks: the checklist message (one Done button per step), the admins' edit modal, a read-only view.

The checklist names who ticked a step; it reaches the channel as a chat.update of the thread message, and edits
do not notify, so nobody is pinged for ticking. Holding statements are code blocks: one click selects them to copy.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from bot.blocks.crisis import clock
from bot.blocks.limits import clip, fit_message
from bot.crisis import Crisis
from bot.playbook import STATEMENT_SEPARATOR, Check, Playbook

PLAYBOOK_EDIT_CALLBACK = "crisis-playbook-edit"


class PlaybookActions(StrEnum):
    check = "crisis-playbook-check"


def check_value(crisis_id: int, step_id: int) -> str:
    return f"{crisis_id}:{step_id}"


def parse_check_value(value: str) -> tuple[int, int]:
    """Return (crisis_id, step_id) from a Done button's value."""
    crisis_id, _, step_id = value.partition(":")
    return int(crisis_id), int(step_id)


def _copyable(text: str) -> str:
    # A ``` inside the statement would end the code block early; a zero-width space keeps it literal.
    return "```" + text.replace("```", "`\u200b``") + "```"


def _statement_blocks(playbook: Playbook) -> list[dict[str, Any]]:
    if not playbook.statements:
        return []
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Pre-approved holding statements* — copy as they are"}}]
    for statement in playbook.statements:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(_copyable(statement.text), 3000)}})
    return blocks


def build_playbook_message(crisis: Crisis, playbook: Playbook, checks: dict[int, Check]) -> tuple[str, list[dict[str, Any]]]:
    """Return the checklist for one crisis: ✓ with who and when for ticked steps, a Done button for the rest while open."""
    done = sum(1 for s in playbook.steps if s.id in checks)
    heading = f"Playbook for {crisis.title}: {done} of {len(playbook.steps)} done"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": clip(f":clipboard: {heading}", 150)}}]
    for number, step in enumerate(playbook.steps, start=1):
        check = checks.get(step.id)
        if check is not None:
            text = f":white_check_mark: ~{step.text}~\n✓ done by <@{check.checked_by}> at {clock(check.checked_at)}"
            blocks.append({"type": "section", "block_id": f"step-{step.id}", "text": {"type": "mrkdwn", "text": clip(text, 3000)}})
            continue
        block: dict[str, Any] = {"type": "section", "block_id": f"step-{step.id}",
                                 "text": {"type": "mrkdwn", "text": clip(f":white_large_square: {number}. {step.text}", 3000)}}
        if not crisis.status.closed:
            block["accessory"] = {"type": "button", "text": {"type": "plain_text", "text": "Done"}, "action_id": PlaybookActions.check.value,
                                  "value": check_value(crisis.id, step.id)}
        blocks.append(block)
    statements = _statement_blocks(playbook)
    if statements:
        blocks += [{"type": "divider"}, *statements]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Admins edit the team's playbook with `/crisis playbook`."}]})
    lines = [f"{'✓' if s.id in checks else '☐'} {s.text}" for s in playbook.steps]
    return fit_message(heading + "\n" + "\n".join(lines), blocks)


def build_playbook_preview(team_name: str, playbook: Playbook, *, note: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Return the team's playbook without buttons (for `/crisis playbook` by someone who cannot edit it)."""
    steps = "\n".join(f"{n}. {s.text}" for n, s in enumerate(playbook.steps, start=1))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": clip(f"*Crisis playbook of {team_name}*\n{steps}", 3000)}}]
    blocks += _statement_blocks(playbook)
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return fit_message(f"Crisis playbook of {team_name}: {len(playbook.steps)} steps. {note}".strip(), blocks)


def build_playbook_modal(*, team_id: int, team_name: str, playbook: Playbook) -> dict[str, Any]:
    """Return the edit modal: steps one per line, holding statements separated by a `---` line."""
    separator = f"\n{STATEMENT_SEPARATOR}\n"
    steps = {"type": "plain_text_input", "action_id": "value", "multiline": True, "initial_value": "\n".join(s.text for s in playbook.steps)}
    statements: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": True}
    if playbook.statements:
        statements["initial_value"] = separator.join(s.text for s in playbook.statements)
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{team_name}*: what responders tick during a crisis, and what they may publish."}},
        {"type": "input", "block_id": "steps", "label": {"type": "plain_text", "text": "Checklist steps, one per line"}, "element": steps,
         "hint": {"type": "plain_text", "text": "e.g. Pause scheduled posts. Unchanged steps keep their ticks in open crises."}},
        {"type": "input", "block_id": "statements", "optional": True, "label": {"type": "plain_text", "text": "Holding statements"},
         "element": statements, "hint": {"type": "plain_text", "text": f"Separate statements with a line holding only {STATEMENT_SEPARATOR}"}},
    ]
    return {"type": "modal", "callback_id": PLAYBOOK_EDIT_CALLBACK, "title": {"type": "plain_text", "text": "Crisis playbook"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"team_id": team_id}), "blocks": blocks}
