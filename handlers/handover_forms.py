"""Handover note adapter: the question's button opens the form; a submit saves the note and edits the sent messages."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond

from bot import handover
from bot.audit import Via
from bot.blocks.handover import HANDOVER_CALLBACK, HandoverActions, build_note_modal, build_note_saved, parse_handover_value
from bot.errors import NotFound, SocialopsError
from handlers.deps import Deps
from handlers.replies import tell_presser


def _handover(deps: Deps, value: str) -> handover.Handover:
    """Return the handover a button value or the form's metadata names; NotFound when the rotation no longer has it."""
    try:
        team_id, handoff = parse_handover_value(value)
    except ValueError:
        raise NotFound("That handover is not one I know.") from None
    rotation = deps.rotations.load_rotation_by_id(team_id)
    found = handover.handover_at(rotation, handoff) if rotation is not None else None
    if found is None:
        raise NotFound("That handover is no longer in the rotation (an override may have changed it).")
    return found


def register(app: App, deps: Deps) -> None:
    @app.action(HandoverActions.write.value)
    def open_note_form(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user_id = body["user"]["id"]
        try:
            found = _handover(deps, action["value"])
            handover.require_writer(found, user_id, now=deps.clock())
        except SocialopsError as refusal:
            tell_presser(deps, body, respond, str(refusal), dedupe_key=f"handover-refused:{action['value']}:{user_id}:{action.get('action_ts', '')}")
            return
        view = build_note_modal(found, deps.handover_notes.handover_note(team_id=found.team_id, handoff=found.handoff))
        deps.run_later(lambda: deps.slack.open_view(trigger_id=body["trigger_id"], view=view))

    @app.view(HANDOVER_CALLBACK)
    def save_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        user_id = body["user"]["id"]
        text = str(((view.get("state", {}).get("values", {}).get("note") or {}).get("note") or {}).get("value") or "")
        try:
            found = _handover(deps, json.loads(view.get("private_metadata") or "{}").get("handover", ""))
            note = handover.write_note(deps.handover_notes, deps.audit, handover=found, user_id=user_id, text=text, now=deps.clock(),
                                       via=Via.modal)
        except SocialopsError as refusal:
            ack(response_action="errors", errors={"note": str(refusal)})
            return
        ack()
        reply, blocks = build_note_saved(note)
        deps.outbox.send(dedupe_key=f"handover-saved:{found.team_id}:{found.handoff:%Y%m%dT%H%M%S}:{deps.clock():%Y%m%dT%H%M%S%f}",
                         method="dm", payload={"user": user_id, "text": reply, "blocks": blocks})
        deps.run_later(lambda: deps.handover_flow.handover_note_saved(found.team_id, found.handoff))
