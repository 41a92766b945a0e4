"""Block Kit for a team's escalation policy: the admins' modal (one row per step) and the read-only answer."""

from __future__ import annotations

import json
from typing import Any

from bot.blocks.limits import fit_message
from bot.escalation import FORM_ROWS, MAX_REPEAT, MAX_WAIT_MINUTES, MIN_STILL_ON_IT, Policy, Target, describe_policy, step_block_ids

POLICY_EDIT_CALLBACK = "crisis-policy-edit"

TARGET_NAMES = {
    Target.PRIMARY: "Primary",
    Target.BACKUP: "Backup",
    Target.PRIMARY_AND_BACKUP: "Primary and backup",
    Target.GROUP: "On-call group / @here in the channel",
    Target.MANAGERS: "Managers (socialops admins)",
}


def _minutes(policy_wait: Any) -> int:
    return int(policy_wait.total_seconds() // 60)


def describe_steps(policy: Policy) -> list[str]:
    """Return one line per step, e.g. "1. Primary — then wait 5 min"."""
    return [f"{n}. {TARGET_NAMES[s.target]} — then wait {_minutes(s.wait)} min" for n, s in enumerate(policy.steps, start=1)]


def build_policy_answer(team_name: str, policy: Policy, *, note: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Return the policy read-only: the steps with their waits, the repeat count and the "still on it?" interval."""
    body = "\n".join(describe_steps(policy))
    tail = (f"The chain runs {policy.repeat}× unless someone acknowledges. After an acknowledgement with no update for "
            f"{_minutes(policy.still_on_it_after)} min the bot asks \"still on it?\".")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Escalation policy of {team_name}*\n{body}\n{tail}"}}]
    if note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return fit_message(f"Escalation for {team_name}: {describe_policy(policy)}; repeated {policy.repeat}×. {note}".strip(), blocks)


def _number(block_id: str, label: str, *, initial: int | None, minimum: int, maximum: int, optional: bool, hint: str = "") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "action_id": "value", "is_decimal_allowed": False,
                               "min_value": str(minimum), "max_value": str(maximum)}
    if initial is not None:
        element["initial_value"] = str(initial)
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "optional": optional, "label": {"type": "plain_text", "text": label},
                             "element": element}
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def build_policy_modal(*, team_id: int, team_name: str, policy: Policy) -> dict[str, Any]:
    """Return the modal: FORM_ROWS rows of (whom, wait), the repeat count and the "still on it?" interval."""
    options = [{"text": {"type": "plain_text", "text": name}, "value": target.value} for target, name in TARGET_NAMES.items()]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": (
        f"*{team_name}*: who is paged, in order, and how long each step waits for an acknowledgement. "
        "Leave rows empty to use fewer steps. Open crises keep the policy they started with.")}}]
    for row in range(FORM_ROWS):
        target_id, wait_id = step_block_ids(row)
        step = policy.steps[row] if row < len(policy.steps) else None
        select: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options,
                                  "placeholder": {"type": "plain_text", "text": "Nobody (unused)"}}
        if step is not None:
            select["initial_option"] = next(o for o in options if o["value"] == step.target.value)
        blocks.append({"type": "input", "block_id": target_id, "optional": True,
                       "label": {"type": "plain_text", "text": f"Step {row + 1}: page"}, "element": select})
        blocks.append(_number(wait_id, f"Step {row + 1}: minutes before the next step", initial=_minutes(step.wait) if step else None,
                              minimum=1, maximum=MAX_WAIT_MINUTES, optional=True))
    blocks.append(_number("repeat", "Run the whole chain this many times", initial=policy.repeat, minimum=1, maximum=MAX_REPEAT, optional=False))
    blocks.append(_number("still_on_it", "Ask \"still on it?\" after this many minutes without an update",
                          initial=_minutes(policy.still_on_it_after), minimum=MIN_STILL_ON_IT, maximum=24 * 60, optional=False))
    return {"type": "modal", "callback_id": POLICY_EDIT_CALLBACK, "title": {"type": "plain_text", "text": "Escalation policy"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"team_id": team_id}), "blocks": blocks}
