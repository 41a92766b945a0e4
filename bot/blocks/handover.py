"""Block Kit for handover notes: the question to the outgoing primary, its modal, the notice to the incoming primary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.blocks.limits import fit_message
from bot.handover import MAX_NOTE_CHARS, Handover, HandoverNote
from bot.slack_time import slack_date

HANDOVER_CALLBACK = "handover-note"


class HandoverActions(StrEnum):
    write = "handover-write"


def handover_value(team_id: int, handoff: datetime) -> str:
    """Return the button value / modal metadata naming one team handoff: "7:20261130T080000Z"."""
    return f"{team_id}:{handoff.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def parse_handover_value(value: str) -> tuple[int, datetime]:
    """Return (team id, handoff) from `handover_value`; ValueError for anything else."""
    team_id, stamp = value.split(":")
    return int(team_id), datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def build_note_question(handover: Handover, *, tz: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM asking the outgoing primary "anything the next person should know?", with a button to the form."""
    incoming = f"<@{handover.incoming}>" if handover.incoming else "the next primary"
    text = (f"Your shift as primary for *{handover.team_name}* ends at {slack_date(handover.handoff, tz)}. "
            f"Anything the next person should know? A note goes to {incoming} and into the handoff announcement.")
    button = {"type": "button", "action_id": HandoverActions.write.value, "value": handover_value(handover.team_id, handover.handoff),
              "text": {"type": "plain_text", "text": "Write a handover note"}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
              {"type": "actions", "block_id": f"handover-{handover.team_id}", "elements": [button]},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "Optional. You can edit it until the next handoff."}]}]
    return fit_message(f"Anything the next {handover.team_name} primary should know?", blocks)


def build_note_modal(handover: Handover, note: HandoverNote | None) -> dict[str, Any]:
    """Return the handover note form, filled with the note so far."""
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "note", "multiline": True, "max_length": MAX_NOTE_CHARS}
    if note is not None and note.text:
        element["initial_value"] = note.text
    return {"type": "modal", "callback_id": HANDOVER_CALLBACK, "title": {"type": "plain_text", "text": "Handover note"},
            "submit": {"type": "plain_text", "text": "Save"}, "close": {"type": "plain_text", "text": "Cancel"},
            "private_metadata": json.dumps({"handover": handover_value(handover.team_id, handover.handoff)}),
            "blocks": [{"type": "input", "block_id": "note", "optional": True, "element": element,
                        "label": {"type": "plain_text", "text": "Anything the next person should know?"},
                        "hint": {"type": "plain_text", "text": "Leave it empty to remove the note."}}]}


def build_note_notice(note: HandoverNote, *, team_name: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the DM telling the incoming primary a note arrived after their "you're on call now" message."""
    quoted = "\n".join(f"> {line}" for line in note.text.splitlines())
    text = f"<@{note.author}> left you a handover note for *{team_name}*:\n{quoted}"
    return fit_message(f"Handover note from <@{note.author}> for {team_name}", [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}])


def build_note_saved(note: HandoverNote | None) -> tuple[str, list[dict[str, Any]]]:
    """Return the confirmation DM after saving (or removing) a note."""
    text = ":white_check_mark: Handover note saved; the next primary sees it." if note else "Handover note removed."
    return fit_message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
